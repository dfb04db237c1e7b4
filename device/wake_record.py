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
from device.files import write_atomically
from device.vad import FRAME_MS, Endpoint, Endpointer, EndpointSettings
from drivers.audio_format import BYTES_PER_SECOND, seconds_of, wav_bytes
from drivers.mic import Microphone

FRAME_BYTES = BYTES_PER_SECOND * FRAME_MS // 1000
# Kept before the speech starts: the room the detector hears before the phrase. A second, so that
# when `zeropin wakeword eval` pads the clip with silence, the windows it decides on do not reach
# that (see wakeword_trainer.testset.PAD_SECONDS).
PRE_ROLL_SECONDS = 1.0
TAKE = EndpointSettings(
    aggressiveness=2,
    start_frames=3,
    trailing_silence_seconds=0.5,  # a take ends after half a second of silence
    max_utterance_seconds=3.0,  # a wake phrase, not a sentence
    no_speech_timeout_seconds=6.0,
)
ROOM_SECONDS = 10.0  # how far back the room's own level is judged
ABOVE_ROOM_DB = 10.0  # how much louder than the room a frame of speech is
SHORTEST_SECONDS = 0.25  # of speech: shorter is a blip, not a take (the trainer refuses it)
CLIPPED_SHARE = 0.001  # of samples at full scale: the mic gain is too high
GIVE_UP_AFTER = 3  # takes in a row with nothing heard, on a live microphone
SPEAKER = re.compile(r"[A-Za-z0-9-]{1,32}")


@dataclass(frozen=True)
class Take:
    """One attempt: the audio cut out (``pcm``), and why it is not kept (``problem``), if not."""

    pcm: bytes  # empty when nothing was heard
    problem: str = ""
    speech_seconds: float = 0.0


def _dbfs(amplitude: float) -> float:
    return 20 * float(np.log10(max(amplitude, 1.0) / 32768))


class TakeEndpointer(Endpointer):
    """webrtcvad's endpointing, where a frame is speech only if it is also ABOVE_ROOM_DB louder
    than the room (the quietest tenth of the last ROOM_SECONDS). Alone, after a long or a quiet
    take, webrtcvad went on hearing a quiet room's hiss as speech, so the take never ended.
    Kept from take to take: both webrtcvad and the room's level are learnt as it goes."""

    def __init__(self) -> None:
        super().__init__(TAKE)
        self._levels: deque[float] = deque(maxlen=int(ROOM_SECONDS * 1000 / FRAME_MS))
        self.loudest_dbfs = -100.0  # of any frame since begin()

    def begin(self, already_speaking: bool = False) -> None:
        super().begin(already_speaking)
        self.loudest_dbfs = -100.0

    @property
    def room_dbfs(self) -> float:
        return float(np.percentile(self._levels, 10)) if self._levels else -100.0

    def is_speech(self, frame: bytes) -> bool:
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        level = _dbfs(float(np.sqrt(np.mean(samples**2))))
        self._levels.append(level)
        self.loudest_dbfs = max(self.loudest_dbfs, level)
        return level >= self.room_dbfs + ABOVE_ROOM_DB and super().is_speech(frame)


def _frames(mic: Microphone) -> Iterator[bytes]:
    """The microphone's audio in 30 ms frames, whatever its chunk size; ends with the audio."""
    pending = b""
    while chunk := mic.read():
        pending += chunk
        while len(pending) >= FRAME_BYTES:
            yield pending[:FRAME_BYTES]
            pending = pending[FRAME_BYTES:]


def cut_take(frames: Iterator[bytes], endpointer: TakeEndpointer) -> Take | None:
    """The next take from ``frames``: pre-roll, speech and the silence after it; None when the
    audio ends before a take does. Blips under SHORTEST_SECONDS (a knock, a cough) are passed
    over; a take over TAKE's length limit is dropped once the speaker stops."""
    endpointer.begin()
    before: deque[bytes] = deque(maxlen=int(PRE_ROLL_SECONDS * 1000 / FRAME_MS))
    kept: list[bytes] = []
    too_long = False
    for frame in frames:
        event = endpointer.process(frame)
        if event is Endpoint.NO_SPEECH:
            return Take(
                b"",
                f"heard no speech in {TAKE.no_speech_timeout_seconds:g} s (loudest sound "
                f"{endpointer.loudest_dbfs:.0f} dBFS, the room {endpointer.room_dbfs:.0f})",
            )
        if event is Endpoint.SPEECH_STARTED:
            endpointer.begin(already_speaking=True)  # the length limit counts from here
        if not endpointer.in_speech:
            before.append(frame)
            continue
        kept.append(frame)
        too_long = too_long or event is Endpoint.TOO_LONG
        if event is not Endpoint.SPEECH_ENDED:
            continue
        if too_long:
            limit = TAKE.max_utterance_seconds
            return Take(b"".join(kept), f"over {limit:g} s of speech: say just the phrase")
        if _speech_seconds(kept, TAKE.trailing_silence_seconds) >= SHORTEST_SECONDS:
            return _ended(list(before), kept, TAKE.trailing_silence_seconds)
        endpointer.begin()  # a blip: listen on
        before.extend(kept)
        kept = []
    if kept and not too_long and _speech_seconds(kept, 0.0) >= SHORTEST_SECONDS:  # ended mid-take
        return _ended(list(before), kept, 0.0)
    return None


def _speech_seconds(kept: list[bytes], silence_seconds: float) -> float:
    """From the voiced frames that started the take to the last voiced one."""
    return (len(kept) + TAKE.start_frames - 1) * FRAME_MS / 1000 - silence_seconds


def _ended(before: list[bytes], kept: list[bytes], silence_seconds: float) -> Take:
    pcm = b"".join(before + kept)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    clipped = np.mean(np.abs(samples) >= 32767) > CLIPPED_SHARE
    problem = "clipped: move back a little, or turn the microphone's gain down" if clipped else ""
    return Take(pcm, problem, _speech_seconds(kept, silence_seconds))


def next_number(folder: Path, speaker: str) -> int:
    """One more than the highest ``<speaker>_<NNN>.wav`` in ``folder`` (1 for none)."""
    pattern = re.compile(rf"{re.escape(speaker)}_(\d+)\.wav")
    numbers = [int(m[1]) for p in folder.glob("*.wav") if (m := pattern.fullmatch(p.name))]
    return max(numbers, default=0) + 1


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
    Stops early when the audio ends, or (``live``) after GIVE_UP_AFTER takes in a row with
    nothing heard. Raises StorageError if a clip cannot be saved; the clips saved before stay.
    """
    if not SPEAKER.fullmatch(speaker):
        raise ConfigError(f"--speaker {speaker!r}: use 1 to 32 letters, digits or '-'")
    frames = _frames(mic)
    endpointer = TakeEndpointer()
    saved: list[Path] = []
    number = next_number(folder, speaker) if folder.is_dir() else 1
    silent = 0
    while len(saved) < takes:
        prompt(len(saved) + 1)
        take = cut_take(frames, endpointer)
        if take is None:
            break
        if take.problem:
            silent = silent + 1 if not take.pcm else 0
            if live or take.pcm:  # a recording's long pauses are no news
                tell(f"{take.problem}; not kept")
            if live and silent >= GIVE_UP_AFTER:
                tell(
                    f"no speech {silent} times in a row: speak up, or check the microphone with "
                    "`zeropin doctor`. Stopping."
                )
                break
            continue
        silent = 0
        path = folder / f"{speaker}_{number:03d}.wav"
        try:
            write_atomically(path, wav_bytes(take.pcm))
        except OSError as exc:
            raise StorageError(
                f"could not save {path} ({exc}); the {len(saved)} clip(s) saved before it are kept"
            ) from exc
        saved.append(path)
        number += 1
        tell(f"saved {path} ({seconds_of(take.pcm):.1f} s, {take.speech_seconds:.1f} s of speech)")
    return saved
