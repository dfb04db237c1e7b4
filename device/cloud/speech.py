"""Optional cloud speech: transcription and synthesis through the same provider chain as chat.

:class:`CloudRecognizer` hears every utterance with the local recogniser as well. Commands it
heard confidently stay offline and instant; everything else (a question, or words the local
recogniser was unsure of) is uploaded, as a WAV, to ``/audio/transcriptions`` of the first
provider with a ``transcription_model``, and the intent is decided on the cloud's text, so a
misheard "what time is it" still runs on the device.
:class:`CloudSynthesizer` speaks through ``/audio/speech`` of the first provider with a
``speech_model``. Both go through the egress gate (ledger row; privacy LED lit while audio is in
flight) and fall back to the next provider, then to the local engine, logging each failure once
at WARNING. Neither retries a provider: the local result is ready at once, and a retry would
only make the user wait longer for something no better.

Example (``[providers.NAME] transcription_model`` and ``speech_model`` pick the models)::

    import os
    from pathlib import Path
    from device.listening.asr import PocketsphinxRecognizer
    from device.cloud.speech import CloudRecognizer, CloudSynthesizer
    from device.config.sources import load_config
    from device.egress import EgressGate, Ledger
    from device.skills.intents import jsgf_grammar, parse
    from device.storage.database import Database
    from device.cloud.providers import resolve_providers
    from device.speaking.tts import EspeakSynthesizer
    from drivers.leds import PrivacyLed

    providers = resolve_providers(load_config(), os.environ)
    with Database(Path("zeropin.db")) as db, PrivacyLed(16) as led:
        gate = EgressGate(Ledger(db), led)
        command = lambda text: parse(text) is not None
        local = PocketsphinxRecognizer(jsgf_grammar("hey zero"), command)
        asr = CloudRecognizer(providers, gate, local, is_command=command)
        pcm = CloudSynthesizer(providers, gate, EspeakSynthesizer()).synthesize("Hello.")
"""

from __future__ import annotations

import json
import logging
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from urllib3.filepost import encode_multipart_formdata

from device.cloud.chain import CircuitBreaker
from device.cloud.http import (
    content_type_of,
    network_error,
    post,
    raise_for_status,
    wrong_content_type,
)
from device.cloud.providers import Provider
from device.egress import EgressGate
from device.errors import CloudError, EgressRefused, TtsError
from device.listening.asr import (
    Adaptable,
    ChecksWakePhrase,
    ListensFor,
    LooksTwice,
    Recognizer,
    Transcript,
)
from device.speaking.tts import Synthesizer, wav_bytes_to_bus
from drivers.audio_format import BYTES_PER_SECOND, wav_bytes

__all__ = ["CloudRecognizer", "CloudSynthesizer"]

log = logging.getLogger(__name__)

MAX_UPLOAD_SECONDS = 60  # the longest utterance [vad] allows; more is not kept in memory
MAX_ANSWER_BYTES = 8 * 1024 * 1024  # a Pi Zero has 512 MB; a runaway answer must not fill it
MAX_SPEECH_CHARACTERS = 4096  # the /audio/speech limit; longer text is spoken locally
_ANSWER_TYPES = {  # content-type prefixes each endpoint may answer with, the one asked for first
    "audio/transcriptions": ("application/json",),
    "audio/speech": ("audio/wav", "audio/", "application/octet-stream"),
}


RECORDING = "recording transcription"  # the ledger's purpose for a recording's segments


@dataclass(frozen=True)
class _Upload:
    data: bytes
    name: str = "utterance.wav"
    mime: str = "audio/wav"
    purpose: str = "transcription"
    may_be_silent: bool = False  # "" is an answer, not a failure
    language: str = ""  # what it is said in (ISO 639-1), as a hint; "" = the provider finds out


class CloudRecognizer:
    """The local recogniser for commands; a cloud transcription for everything else.

    Confident commands (``confident``, ``in_grammar`` and ``is_command``) are never uploaded: they
    stay offline and instant. The app's ``is_command`` leaves out dictation ("take a note ..."):
    a grammar can only guess at a note's words, so those are transcribed here when they can be.
    Blank local results are not uploaded either: that is silence or noise (the listener also
    ends utterances in which no speech started), unless the local recogniser knows it was speech
    that is none of its commands (``Transcript.not_understood``: the Chinese command model).
    Audio is the only thing uploaded: when no provider transcribes it, the local result is
    returned (after the local recogniser's second look, when it has one waiting), and an unsure
    one is then not acted on (see ``Transcript.confident``). Providers without a
    ``transcription_model`` are skipped; one that fails ``failures`` times in a row is paused for
    ``cooldown_seconds``. ``language`` (the device's, "zh") is sent with what the wearer says to
    it and with recordings; a conversation being translated is sent without, for the provider to
    tell which of its two languages was spoken.
    """

    name = "cloud"

    def __init__(
        self,
        providers: Sequence[Provider],
        gate: EgressGate,
        local: Recognizer,
        *,
        is_command: Callable[[str], bool] = lambda text: True,
        session: requests.Session | None = None,
        failures: int = 3,
        cooldown_seconds: float = 60.0,
        budget_spent: Callable[[], bool] = lambda: False,
        language: str = "",
    ) -> None:
        self.providers = [p for p in providers if p.transcription_model]
        self.language = language
        self._budget_spent = budget_spent
        self.gate = gate
        self.local = local
        self._is_command = is_command
        self._session = session or requests.Session()
        self._breakers = {
            p.name: CircuitBreaker(failures, cooldown_seconds, one_job=True) for p in providers
        }
        self._pcm = bytearray()
        # A local recogniser built to look twice only when asked (``build_recognizer``) is asked
        # when no cloud transcribed the utterance
        self._second_look = local if isinstance(local, LooksTwice) else None

    def start(self) -> None:
        self._pcm.clear()
        self.local.start()

    def feed(self, pcm: bytes) -> None:
        self.local.feed(pcm)
        room = MAX_UPLOAD_SECONDS * BYTES_PER_SECOND - len(self._pcm)
        self._pcm += pcm[: max(0, room)]

    def finish(self) -> Transcript:
        local = self.local.finish()
        pcm, self._pcm = bytes(self._pcm), bytearray()
        text = local.text.strip()
        if (text or local.not_understood) and not (
            local.confident and local.in_grammar and self._is_command(text)
        ):
            heard = self.transcribe(wav_bytes(pcm))
            if heard is not None:
                return Transcript(heard, in_grammar=False, engine=self.name, verbatim=True)
        rescued = self._second_look.second_look() if self._second_look is not None else None
        return rescued or local

    def transcribe(self, wav: bytes, language: str | None = None) -> str | None:
        """``wav`` transcribed by the first provider that can, through the gate; None when
        none can now (refused by the gate, failed, paused after failures, or the device's usage
        budget is used up: ``budget_spent``). ``language``: "" for the provider to find out;
        None for the device's."""
        said_in = self.language if language is None else language
        return self._first_able(_Upload(wav, language=said_in))

    def transcribe_recording(self, flac: bytes) -> str | None:
        """A recording's segment (FLAC), as ``transcribe``; "" when it holds no words (a pause
        in a meeting is not a failure to retry)."""
        upload = _Upload(flac, "segment.flac", "audio/flac", RECORDING, True, self.language)
        return self._first_able(upload)

    def _first_able(self, upload: _Upload) -> str | None:
        if self._budget_spent():
            log.info("the cloud budget is used up: nothing is uploaded to be transcribed")
            return None
        able = [p for p in self.providers if not self._breakers[p.name].is_open]
        for n, provider in enumerate(able, 1):
            try:
                heard = self._transcribe(provider, upload)
            except EgressRefused as exc:
                log.warning("%s; using the local transcript", exc)
                return None  # the gate would refuse every provider alike
            except CloudError as exc:
                then = "trying the next provider" if n < len(able) else "using the local one"
                log.warning("cloud transcription failed, %s: %s", then, exc)
                self._breakers[provider.name].failed(exc)
                continue
            self._breakers[provider.name].succeeded()
            return heard
        return None

    def _transcribe(self, provider: Provider, upload: _Upload) -> str:
        fields: list[tuple[str, Any]] = [
            ("model", provider.transcription_model),
            ("response_format", "json"),
            ("file", (upload.name, upload.data, upload.mime)),
        ]
        if upload.language:
            fields.insert(2, ("language", upload.language))
        body, content_type = encode_multipart_formdata(fields)
        with self.gate.upload(
            host=provider.host, kind="audio", size_bytes=len(body), purpose=upload.purpose
        ):
            answer = _post(self._session, provider, "audio/transcriptions", body, content_type)
        try:
            heard = json.loads(answer)["text"]
        except (ValueError, KeyError, TypeError):
            raise CloudError(f"{provider.name} sent a transcript without text") from None
        if not isinstance(heard, str):
            raise CloudError(f"{provider.name} sent a transcript without text")
        if not heard.strip() and not upload.may_be_silent:
            raise CloudError(f"{provider.name} heard no words")
        return " ".join(heard.split())

    @property
    def phrase_said(self) -> bool:
        return bool(getattr(self.local, "phrase_said", False))

    @phrase_said.setter
    def phrase_said(self, value: bool) -> None:
        """Tell a local recogniser that checks itself on the wake phrase (see ``Listener``)."""
        if isinstance(self.local, ChecksWakePhrase):
            self.local.phrase_said = value

    @property
    def expecting(self) -> str:
        return str(getattr(self.local, "expecting", ""))

    @expecting.setter
    def expecting(self, value: str) -> None:
        """Tell a local recogniser that listens for answers what the device asked."""
        if isinstance(self.local, ListensFor):
            self.local.expecting = value

    @property
    def guesses(self) -> bool:
        return bool(getattr(self.local, "guesses", False))

    @guesses.setter
    def guesses(self, value: bool) -> None:
        if isinstance(self.local, ListensFor):
            self.local.guesses = value

    @property
    def phrase_bytes(self) -> int:
        return int(getattr(self.local, "phrase_bytes", 0))

    @phrase_bytes.setter
    def phrase_bytes(self, value: int) -> None:
        if isinstance(self.local, ChecksWakePhrase):
            self.local.phrase_bytes = value

    def adapt(self, pcm: bytes) -> None:
        """Let the local recogniser tune itself to the microphone, when it can."""
        if isinstance(self.local, Adaptable):
            self.local.adapt(pcm)

    @property
    def cmn(self) -> str:
        """The local recogniser's normalisation (see ``Listener``). AttributeError when it has
        none, so the listener's ``hasattr`` check tells the truth."""
        local: Any = self.local  # pocketsphinx has it; the Recognizer protocol does not
        return str(local.cmn)

    @cmn.setter
    def cmn(self, value: str) -> None:
        local: Any = self.local
        if hasattr(local, "cmn"):
            local.cmn = value


class CloudSynthesizer:
    """Speech from ``/audio/speech``; the local synthesiser when no provider can give it.

    Sentences come one after another, so a provider that fails is paused for
    ``cooldown_seconds`` after ``failures`` (by default one) failure: a dead uplink costs one
    timeout per cool-down, not one per sentence. Each kind of failure is logged once until the
    provider works again.
    """

    name = "cloud"  # falling back to the local engine sentence by sentence

    def __init__(
        self,
        providers: Sequence[Provider],
        gate: EgressGate,
        local: Synthesizer,
        *,
        session: requests.Session | None = None,
        failures: int = 1,
        cooldown_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.providers = [p for p in providers if p.speech_model]
        self.gate = gate
        self.local = local
        self._session = session or requests.Session()
        self._breakers = {
            p.name: CircuitBreaker(failures, cooldown_seconds, clock, one_job=True)
            for p in providers
        }
        self._last_warning: dict[str, str] = {}  # provider name -> its last failure logged

    def synthesize(self, text: str) -> bytes:
        """Bus-format PCM of ``text`` spoken; ``b""`` for blank text. Raises TtsError only when
        the local synthesiser fails too."""
        if not text.strip():
            return b""
        able = [p for p in self.providers if not self._breakers[p.name].is_open]
        if len(text) > MAX_SPEECH_CHARACTERS:
            able = []  # more than /audio/speech takes in one request
        for n, provider in enumerate(able, 1):
            try:
                pcm = self._speak(provider, text)
            except EgressRefused as exc:
                self._warn(provider, f"{exc}; speaking locally")
                break  # the ledger cannot be written: no provider may be asked
            except CloudError as exc:
                then = "trying the next provider" if n < len(able) else "speaking locally"
                self._warn(provider, f"cloud speech failed, {then}: {exc}")
                self._breakers[provider.name].failed(exc)
                continue
            self._breakers[provider.name].succeeded()
            self._last_warning.pop(provider.name, None)
            return pcm
        return self.local.synthesize(text)

    def _speak(self, provider: Provider, text: str) -> bytes:
        voice = provider.speech_voice or "alloy"
        request = {"model": provider.speech_model, "input": text, "voice": voice}
        body = json.dumps({**request, "response_format": "wav"}, ensure_ascii=False).encode()
        with self.gate.upload(
            host=provider.host, kind="text", size_bytes=len(body), purpose="speech", content=text
        ):
            answer = _post(self._session, provider, "audio/speech", body, "application/json")
        try:
            pcm = wav_bytes_to_bus(answer)
        except (TtsError, ValueError, struct.error) as exc:
            raise CloudError(f"{provider.name} sent audio that is not a PCM WAV") from exc
        if not pcm:
            raise CloudError(f"{provider.name} sent no audio")
        return pcm

    def _warn(self, provider: Provider, message: str) -> None:
        if self._last_warning.get(provider.name) != message:
            self._last_warning[provider.name] = message
            log.warning("%s", message)
        else:
            log.debug("%s", message)


def _post(
    session: requests.Session, provider: Provider, path: str, body: bytes, content_type: str
) -> bytes:
    """POST ``body`` and read the whole answer within the provider's limits. The read timeout
    bounds each wait for data, the deadline the whole exchange (give or take one read). Raises
    CloudError, also for an answer of the wrong type; no message shows the key."""
    wanted = _ANSWER_TYPES[path]
    deadline = time.monotonic() + provider.deadline_seconds
    try:
        response = post(session, provider, path, body, content_type, wanted[0])
        with response:
            raise_for_status(response, provider)
            kind = content_type_of(response)
            if not kind.startswith(wanted):
                raise wrong_content_type(provider, kind, wanted[0])
            answer = bytearray()
            while data := response.raw.read1(65536):
                answer += data
                if time.monotonic() > deadline:
                    raise CloudError(
                        f"{provider.name} took longer than {provider.deadline_seconds:g} s"
                    )
                if len(answer) > MAX_ANSWER_BYTES:
                    raise CloudError(f"{provider.name} sent more than {MAX_ANSWER_BYTES} bytes")
    except CloudError:  # a ConnectionError, hence an OSError: it must not be caught below
        raise
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise network_error(exc, provider) from None
    return bytes(answer)
