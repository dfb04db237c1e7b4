"""Your own clips of the wake phrase: the real voices that synthetic speech cannot make.

``zeropin wakeword record "hey zero" clips/`` asks for the phrase again and again. webrtcvad cuts
each take out of the microphone (from a second before the speech to the silence after it),
the take is checked (speech, not too long, not clipped) and saved as
``clips/<speaker>_<NNN>.wav``, numbered after the clips already there, so a second session or a
second speaker never overwrites one. With ``--from FILE`` the takes are cut from a recording
instead (a phone's, say), one per pause.

The folder then feeds ``zeropin wakeword eval MODEL --positives clips/ ...`` (how a model does on
your voice) and ``zeropin wakeword train PHRASE --recordings clips/`` (a model that has heard it).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.errors import ConfigError, StorageError
from device.listening.frames import FRAME_MS, frames
from device.listening.vad import Endpoint, Endpointer, EndpointSettings
from device.storage.files import write_atomically
from drivers.audio_format import (
    CLIPPED_SHARE,
    audio_level,
    seconds_of,
    wav_bytes,
)
from drivers.mic import Microphone

# The room kept before the speech: what the detector hears before the phrase. A second, so that
# when `zeropin wakeword eval` pads the clip with silence, the windows it decides on do not reach
# it (see wakeword_trainer.testset.PAD_SECONDS); a take with under MIN_ROOM_SECONDS is refused.
PRE_ROLL_SECONDS = 1.0
MIN_ROOM_SECONDS = 0.8
TAKE_ENDPOINTING = EndpointSettings(
    aggressiveness=2,
    start_frames=3,  # voiced frames in a row that start a take
    trailing_silence_seconds=0.5,  # a take ends after half a second of silence
    max_utterance_seconds=3.0,  # a wake phrase, not a sentence
    no_speech_timeout_seconds=6.0,
)
ROOM_SECONDS = 10.0  # how far back the room's own level is judged
ABOVE_ROOM_DB = 10.0  # how much louder than the room a frame of speech is
SHORTEST_SECONDS = 0.25  # of speech: shorter is a blip, not a take (the trainer refuses it)
GIVE_UP_AFTER = 3  # takes in a row with nothing heard, on a live microphone
SPEAKER = re.compile(r"[A-Za-z0-9-]{1,32}")


def check_speaker(name: str) -> None:
    """ConfigError unless ``name`` is fit for the start of a file name."""
    if not SPEAKER.fullmatch(name):
        raise ConfigError(f"--speaker {name!r}: use 1 to 32 letters, digits or '-'")


@dataclass(frozen=True)
class Take:
    """One attempt: the audio cut out (``pcm``, empty when no speech was heard), and why it is
    not kept (``problem``), if it is not."""

    pcm: bytes
    problem: str = ""
    speech_seconds: float = 0.0


class TakeEndpointer(Endpointer):
    """webrtcvad's endpointing, where a frame is speech only if it is also ABOVE_ROOM_DB louder
    than the room (the quietest tenth of the last ROOM_SECONDS). Alone, after a long or a quiet
    take, webrtcvad went on hearing a quiet room's hiss as speech, so the take never ended."""

    def __init__(self) -> None:
        super().__init__(TAKE_ENDPOINTING)
        self._levels: deque[float] = deque(maxlen=int(ROOM_SECONDS * 1000 / FRAME_MS))
        self.loudest_dbfs = -100.0  # of any frame since begin()
        self.last_voiced = False  # what is_speech said of the last frame

    def begin(self, already_speaking: bool = False, no_speech_seconds: float | None = None) -> None:
        super().begin(already_speaking, no_speech_seconds)
        self.loudest_dbfs = -100.0

    @property
    def room_dbfs(self) -> float:
        return float(np.percentile(self._levels, 10)) if self._levels else -100.0

    def is_speech(self, frame: bytes) -> bool:
        level = max(audio_level(frame)[0], -100.0)  # digital silence: -inf
        self._levels.append(level)
        self.loudest_dbfs = max(self.loudest_dbfs, level)
        loud = level >= self.room_dbfs + ABOVE_ROOM_DB
        self.last_voiced = loud and super().is_speech(frame)
        return self.last_voiced


def _frames(mic: Microphone) -> Iterator[bytes]:
    """The microphone's audio in 30 ms frames, whatever its chunk size; ends with the audio."""
    return frames(iter(mic.read, b""))


class TakeCutter:
    """Cuts takes out of a microphone's audio, one per ``next_take()``: the room before (up to
    PRE_ROLL_SECONDS of what came after the last speech), the speech, and the silence after it.
    Blips under SHORTEST_SECONDS (a knock, a cough) are passed over. webrtcvad, the room's level
    and the room before the next take carry over from take to take."""

    def __init__(self, mic: Microphone) -> None:
        self._frames = _frames(mic)
        self.endpointer = TakeEndpointer()
        # + the voiced frames that start a take, which are speech
        self._room: deque[bytes] = deque(
            maxlen=round(PRE_ROLL_SECONDS * 1000 / FRAME_MS) + TAKE_ENDPOINTING.start_frames - 1
        )

    def next_take(self) -> Take | None:
        """The next take, or None when the audio ends before one does."""
        endpointing, endpointer = TAKE_ENDPOINTING, self.endpointer
        endpointer.begin()
        speech: list[bytes] = []  # from the first of the voiced frames that started the take
        room: list[bytes] = []
        quiet_after = 0  # frames since the last voiced one
        too_long = False
        for frame in self._frames:
            event = endpointer.process(frame)
            if event is Endpoint.NO_SPEECH:
                return Take(
                    b"",
                    f"heard no speech in {endpointing.no_speech_timeout_seconds:g} s (loudest "
                    f"sound {endpointer.loudest_dbfs:.0f} dBFS, the room "
                    f"{endpointer.room_dbfs:.0f})",
                )
            if not endpointer.in_speech:
                self._room.append(frame)
                continue
            if event is Endpoint.SPEECH_STARTED:
                endpointer.begin(already_speaking=True)  # the length limit counts from here
                starting = endpointing.start_frames - 1  # the voiced frames before this one
                room = list(self._room)[: len(self._room) - starting]
                speech = list(self._room)[len(self._room) - starting :]
            speech.append(frame)
            quiet_after = 0 if endpointer.last_voiced else quiet_after + 1
            too_long = too_long or event is Endpoint.TOO_LONG
            if too_long and _seconds(len(speech)) >= 3 * endpointing.max_utterance_seconds:
                self._room.clear()
                return _finish_take(room, speech, quiet_after, too_long)  # it never stops
            if event is not Endpoint.SPEECH_ENDED:
                continue
            if not too_long and _seconds(len(speech) - quiet_after) < SHORTEST_SECONDS:
                self._room.extend(speech)  # a blip is part of the room: listen on
                speech = []
                endpointer.begin()
                continue
            self._room.clear()
            self._room.extend(speech[len(speech) - quiet_after :])  # the next take's room
            return _finish_take(room, speech, quiet_after, too_long)
        if speech:  # the audio ended during a take
            return _finish_take(room, speech, quiet_after, too_long)
        return None


def _seconds(frames: int) -> float:
    return frames * FRAME_MS / 1000


def _finish_take(room: list[bytes], speech: list[bytes], quiet_after: int, too_long: bool) -> Take:
    pcm = b"".join(room + speech)
    spoken = _seconds(len(speech) - quiet_after)
    if too_long:
        limit = TAKE_ENDPOINTING.max_utterance_seconds
        return Take(pcm, f"over {limit:g} s of speech: say just the phrase", spoken)
    if spoken < SHORTEST_SECONDS:
        return Take(pcm, f"only {spoken:.2f} s of speech: say the whole phrase", spoken)
    if _seconds(len(room)) < MIN_ROOM_SECONDS:
        quiet = _seconds(len(room))
        return Take(pcm, f"only {quiet:.1f} s of quiet before it: wait a second first", spoken)
    if audio_level(pcm)[1] > CLIPPED_SHARE:
        return Take(pcm, "clipped: move back a little, or turn the microphone's gain down", spoken)
    return Take(pcm, "", spoken)


def _free_path(folder: Path, speaker: str) -> Path:
    """``folder/<speaker>_<NNN>.wav`` numbered one past the highest there (any case, as a FAT
    card does not tell ann_001 from Ann_001), and past any that exists."""
    pattern = re.compile(rf"{re.escape(speaker)}_(\d+)\.wav", re.IGNORECASE)
    names = [p.name for p in folder.glob("*")] if folder.is_dir() else []
    number = max((int(m[1]) for n in names if (m := pattern.fullmatch(n))), default=0) + 1
    while (path := folder / f"{speaker}_{number:03d}.wav").exists():
        number += 1
    return path


def record_clips(
    mic: Microphone,
    folder: Path,
    *,
    speaker: str,
    takes: int,
    prompt: Callable[[int], None] = lambda number: None,
    tell: Callable[[str], None] = print,
    live: bool = True,
) -> list[Path]:
    """Save up to ``takes`` good takes from ``mic`` into ``folder``; the paths written.

    ``prompt(n)`` is called before listening for take ``n``; ``tell`` gets one line per take.
    Stops early when the audio ends, or (``live``) after GIVE_UP_AFTER takes in a row with no
    speech heard; a recording (not ``live``) is not told about its pauses. Raises StorageError
    if a clip cannot be saved; the clips saved before it stay.
    """
    check_speaker(speaker)
    cutter = TakeCutter(mic)
    saved: list[Path] = []
    nothing_heard = 0  # takes in a row
    while len(saved) < takes:
        prompt(len(saved) + 1)
        take = cutter.next_take()
        if take is None:
            break
        nothing_heard = nothing_heard + 1 if not take.pcm else 0
        if take.problem:
            if live or take.pcm:
                tell(f"{take.problem}; not kept")
            if live and nothing_heard >= GIVE_UP_AFTER:
                tell(
                    f"no speech {nothing_heard} times in a row: speak up, or check the "
                    "microphone with `zeropin doctor`. Stopping."
                )
                break
            continue
        path = _free_path(folder, speaker)
        try:
            write_atomically(path, wav_bytes(take.pcm))
        except OSError as exc:
            raise StorageError(
                f"could not save {path} ({exc}); the {len(saved)} clip(s) saved before it are kept"
            ) from exc
        saved.append(path)
        tell(f"saved {path} ({seconds_of(take.pcm):.1f} s, {take.speech_seconds:.1f} s of speech)")
    return saved
