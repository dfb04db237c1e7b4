"""The languages the device can translate into and speak: their names as said in English, their
codes, and the espeak-ng voice that speaks each one.

    >>> language_named("Spanish").voice
    'es'
    >>> language_named("klingon") is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from device.cancel import Cancellation

TRANSLATION_OFFLINE = (
    "Translation needs the cloud, and none is set up. Offline, I can only speak my own language."
)


@dataclass(frozen=True)
class Language:
    name: str  # as the wearer says it, in English
    code: str  # ISO 639-1 where there is one
    voice: str  # espeak-ng's voice for it


LANGUAGES: tuple[Language, ...] = (
    Language("english", "en", "en-us"),
    Language("spanish", "es", "es"),
    Language("french", "fr", "fr-fr"),
    Language("german", "de", "de"),
    Language("italian", "it", "it"),
    Language("portuguese", "pt", "pt"),
    Language("dutch", "nl", "nl"),
    Language("polish", "pl", "pl"),
    Language("swedish", "sv", "sv"),
    Language("greek", "el", "el"),
    Language("turkish", "tr", "tr"),
    Language("russian", "ru", "ru"),
    Language("arabic", "ar", "ar"),
    Language("hindi", "hi", "hi"),
    Language("chinese", "zh", "cmn"),
    Language("mandarin", "zh", "cmn"),
    Language("japanese", "ja", "ja"),
    Language("korean", "ko", "ko"),
)
_BY_NAME = {language.name: language for language in LANGUAGES}
_BY_CODE = {language.code: language for language in reversed(LANGUAGES)}


def language_named(name: str) -> Language | None:
    return _BY_NAME.get(name.strip().lower())


def language_coded(code: str) -> Language | None:
    return _BY_CODE.get(code.strip().lower().split("-")[0])


def names() -> list[str]:
    return [language.name for language in LANGUAGES]


@dataclass(frozen=True)
class Translation:
    """What a translator said: the translation, in ``language`` (a code), or, with no
    language, why there is none, in the device's own language."""

    text: str
    language: str = ""


# Conversation translation needs a cloud that transcribes: the local recognisers hear English only.
CONVERSATION_UNHEARD = (
    "To translate a conversation I need a cloud that transcribes speech, and none is set up for it."
)


class Translator(Protocol):
    online: bool  # False: every answer says translation needs the cloud
    hears: bool  # False: no cloud transcribes a conversation (it does not start)

    def translate(
        self, text: str, language: Language, cancel: Cancellation | None = None
    ) -> Translation:
        """``text`` in ``language``, or the reason it could not be translated."""
        ...

    def interpret(
        self,
        heard: str,
        audio: bytes,
        pair: tuple[Language, Language],
        cancel: Cancellation | None = None,
    ) -> Translation:
        """What was said in one of ``pair`` (``heard``, if a cloud transcribed it, else
        ``audio``, 16 kHz PCM, transcribed now) in the other, or why it could not be."""
        ...


class OfflineTranslator:
    """Says plainly that translation needs the cloud."""

    online = False
    hears = False

    def translate(
        self, text: str, language: Language, cancel: Cancellation | None = None
    ) -> Translation:
        return Translation(TRANSLATION_OFFLINE)

    def interpret(
        self,
        heard: str,
        audio: bytes,
        pair: tuple[Language, Language],
        cancel: Cancellation | None = None,
    ) -> Translation:
        return Translation(TRANSLATION_OFFLINE)
