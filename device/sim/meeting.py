"""A meeting for the recorder's demo and tests: people (espeak-ng voices) speaking a script, and
a stand-in cloud recogniser that knows the script.

No cloud recogniser can be reached here, and the local ones cannot transcribe espeak's voices
reliably (the pocketsphinx fallback turns them into other words). So the loopback server's
transcription, the stand-in for the cloud path, is given :class:`ScriptTranscriber`: it finds
which lines of the script are in an uploaded segment by cross-correlating each line's whole audio
with the segment's (a line that is only similar, "stop recording" for "start recording", does
not match), and answers their text in the order they were said. It is NOT a speech
recogniser; it proves that the right audio reached the server, whole and in order.

    audio, lines = meeting_audio(MEETING)
    with LoopbackLLM() as server:
        server.transcript = ScriptTranscriber(lines)
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import soundfile

from device.sim.loopback.wire import UploadedFile
from device.speaking.tts import EspeakSynthesizer
from drivers.audio_format import RATE

# (voice, words): four people planning a school fair, in voices the tests use nowhere else.
MEETING: tuple[tuple[str, str], ...] = (
    ("en-us+m3", "Thanks for coming. Today we plan the spring fair and its budget."),
    ("en+f3", "The hall is booked for Saturday the fourteenth, from ten until four."),
    ("en-us+f2", "Last year the stage cost too much, so I asked for three quotes this time."),
    ("en-us+m3", "What did the quotes come to?"),
    ("en-us+f2", "The cheapest was four hundred pounds, with the sound system included."),
    ("en+m2", "Then we agreed: the stage budget is four hundred pounds, and no more."),
    ("en+f3", "I will book the stage and the sound system by Friday."),
    ("en-us+m3", "Good. Now the food. How many stalls can the hall take?"),
    ("en+m2", "Eight along the side wall, and two more outside if it stays dry."),
    ("en-us+f2", "We also decided that the cake stall goes by the main door."),
    ("en+f3", "The parents asked for a stall with hot food this year."),
    ("en-us+m3", "Hot food needs a licence from the council, and that takes three weeks."),
    ("en+m2", "Then I will apply for the licence on Monday."),
    ("en-us+f2", "Tickets next. Last year we sold two hundred at five pounds each."),
    ("en+f3", "Children under five came in free, and that worked well."),
    ("en-us+m3", "Let's keep the price at five pounds and sell them online as well."),
    ("en+m2", "Who will make the posters?"),
    ("en-us+f2", "I will print the posters next week and put them up in the library."),
    ("en+f3", "We still need volunteers for the raffle in the afternoon."),
    ("en-us+m3", "I will ask the class reps to find six helpers."),
    ("en+m2", "Anything else? Then let's meet again on Thursday to check the tickets."),
)
PAUSE_SECONDS = 1.2  # between speakers
ROOM_NOISE_RMS = 40.0  # a quiet room's hiss
MATCH = 0.8  # normalised correlation over which a line counts as in the upload


@dataclass(frozen=True)
class SpokenLine:
    voice: str
    text: str
    start_s: float  # where it starts in the meeting's audio
    pcm: bytes = field(repr=False)


def meeting_audio(
    script: tuple[tuple[str, str], ...] = MEETING, seed: int = 7
) -> tuple[bytes, list[SpokenLine]]:
    """The script spoken in turn, with pauses and a room's hiss; its lines with their starts."""
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = [np.zeros(RATE // 2)]
    lines: list[SpokenLine] = []
    at = RATE // 2
    for voice, text in script:
        pcm = EspeakSynthesizer(voice, 165, volume_percent=100).synthesize(text)
        speech = np.frombuffer(pcm, "<i2").astype(np.float64)
        lines.append(SpokenLine(voice, text, at / RATE, pcm))
        pause = np.zeros(round(PAUSE_SECONDS * RATE))
        parts += [speech, pause]
        at += len(speech) + len(pause)
    audio = np.concatenate(parts)
    audio += rng.normal(0, ROOM_NOISE_RMS, len(audio))
    return np.clip(audio, -32768, 32767).astype("<i2").tobytes(), lines


class ScriptTranscriber:
    """The stand-in cloud recogniser: the text of the script's lines found in each upload."""

    def __init__(self, lines: list[SpokenLine]) -> None:
        self.lines = lines
        self.heard: list[str] = []  # what each upload was answered, in order

    def __call__(self, upload: UploadedFile) -> str:
        samples = _samples(upload.data)
        found = []
        for line in self.lines:
            at = _find(np.frombuffer(line.pcm, "<i2").astype(np.float64) / 32768, samples)
            if at is not None:
                found.append((at, line.text))
        text = " ".join(text for _, text in sorted(found))
        self.heard.append(text)
        return text


def _samples(data: bytes) -> np.ndarray:
    samples, _ = soundfile.read(io.BytesIO(data), dtype="float64")
    return np.asarray(samples if samples.ndim == 1 else samples.mean(axis=1))


def _find(needle: np.ndarray, haystack: np.ndarray) -> int | None:
    """Where ``needle`` best matches in ``haystack``, if its normalised correlation is over
    ``MATCH``."""
    n = len(needle)
    if n == 0 or len(haystack) < n:
        return None
    size = 1 << int(np.ceil(np.log2(len(haystack) + n)))
    correlation = np.fft.irfft(
        np.fft.rfft(haystack, size) * np.conj(np.fft.rfft(needle, size)), size
    )[: len(haystack) - n + 1]
    squares = np.concatenate([[0.0], np.cumsum(haystack * haystack)])
    energy = squares[n:] - squares[:-n]  # of each window the needle lies over
    score = correlation / (np.sqrt(np.maximum(energy, 1e-12)) * np.linalg.norm(needle))
    best = int(np.argmax(score))
    return best if score[best] > MATCH else None
