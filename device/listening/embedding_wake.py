"""Wake-word models over a speech embedding learnt from real people (``speech-embedding``).

Our own small networks over log-mel rows learn what the trainer's synthetic voices sound like,
and people sound different: on real recordings they miss a quarter of the phrases
(models/README.md, "On real people"). Google's speech embedding, the front end openWakeWord is
built on, was trained on a large body of real speech; a small classifier on top of it, trained
on the same synthetic speech, carries over to people far better. The two front-end networks
(``melspectrogram.tflite``, ``embedding_model.tflite``, Apache-2.0) come from the
``pyopen-wakeword`` package, checked against the sha256 pinned here; the classifier is the
model file, with its card beside it.

The stream runs in 100 ms steps, as the log-mel scorer does, so the trigger rule and the
evaluation are the same for both kinds of model:

- every step adds ``STEP_MELS`` rows of 32 mel energies (10 ms apart, 32 ms long);
- an embedding (96 numbers) covers the last ``EMBED_MELS`` rows (0.78 s);
- the classifier sees ``embeddings`` of them, ``stride`` steps apart, and scores every
  ``stride`` steps (the score holds in between).

Embeddings are computed only when a window has voice in it (webrtcvad, as the log-mel scorer
gates its model), from the mel rows kept for the window, so any chunking of the stream gives the
same scores; a quiet room costs the mel rows alone.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.util
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from device.errors import ModelError
from device.listening.features import SAMPLE_RATE
from device.listening.interpreter import TRAIN_HINT, load_interpreter
from device.listening.vad import settled_vad

KIND = "speech-embedding"
MEL_HOP = 160  # samples between mel rows: 10 ms
MEL_FRAME = 512  # samples one mel row is computed from
MEL_BANDS = 32
EMBED_MELS = 76  # mel rows one embedding covers
EMBED_SIZE = 96
STEP_MELS = 10  # mel rows per step: the scorer's 100 ms
STEP_SAMPLES = STEP_MELS * MEL_HOP
VAD_HOP = 320  # webrtcvad hears 20 ms at a time
VOICE_GATE_MODE = 0  # as the log-mel scorer: webrtcvad's most permissive mode
PACKAGE = "pyopen_wakeword"
INSTALL_HINT = "pip install pyopen-wakeword==1.1.0"
# pyopen-wakeword 1.1.0's copies of openWakeWord's front end: a model trained on these features
# is only right with these very networks.
FRONT_END_SHA256 = {
    "melspectrogram.tflite": "96fa0adccb6e8cf95cb14465409a1a2898ee4a96a85bb9ed3c7eb0e68bf163e8",
    "embedding_model.tflite": "c0aea21eb84a4ce90a08c870da41b7a7173b45269e6a3207c71d67c40f3a59d8",
}
STRIDES = (1,)  # the recipe's, and the one tested: an embedding every 100 ms step in the window
FIRST_STEP = EMBED_MELS // STEP_MELS  # the first step with an embedding: rows 0..79 are in
QUIET_ROOM_RMS = 20  # int16 units: a quiet room through the device's microphone


def card_features(embeddings: int, stride: int) -> dict[str, Any]:
    """What a speech-embedding model's card records under ``features``."""
    return {
        "kind": KIND,
        "sample_rate": SAMPLE_RATE,
        "step_mels": STEP_MELS,
        "front_end_sha256": dict(FRONT_END_SHA256),
        "embeddings": embeddings,
        "stride": stride,
    }


def card_problem(features: dict[str, Any]) -> str | None:
    """Why this version cannot compute a card's features, or None if it can."""
    embeddings, stride = features.get("embeddings"), features.get("stride")
    if not isinstance(embeddings, int) or not 1 <= embeddings <= 64:
        return f"embeddings must be a whole number from 1 to 64 (got {embeddings!r})"
    if stride not in STRIDES:
        return f"stride must be one of {', '.join(map(str, STRIDES))} (got {stride!r})"
    wanted = card_features(embeddings, stride)
    changed = sorted(k for k in wanted.keys() | features.keys() if features.get(k) != wanted[k])
    return f"{', '.join(changed)} differ" if changed else None


def front_end_dir() -> Path:
    """The folder of the installed package's front-end networks."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelError(f"this wake-word model needs the speech embedding: {INSTALL_HINT}")
    return Path(spec.origin).parent / "models"


class SpeechEmbedding:
    """The mel and embedding networks, checked and loaded; the device has one
    (``shared_embedding``), and a call may come from any thread."""

    def __init__(self) -> None:
        folder = front_end_dir()
        for name, digest in FRONT_END_SHA256.items():
            path = folder / name
            try:
                found = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:
                raise ModelError(
                    f"{path}: cannot read the speech embedding: {INSTALL_HINT}"
                ) from exc
            if found != digest:
                raise ModelError(
                    f"{path}: not the network the model was trained with (sha256 {found[:12]}…, "
                    f"expected {digest[:12]}…): {INSTALL_HINT}"
                )
        hint = INSTALL_HINT
        mel_shape = (1, EmbeddingStream.CONTEXT + STEP_SAMPLES)  # a step, as the stream runs it
        self._mel = load_interpreter(
            folder / "melspectrogram.tflite", hint, "mel network", mel_shape
        )
        embed_shape = (1, EMBED_MELS, MEL_BANDS, 1)
        self._embed = load_interpreter(
            folder / "embedding_model.tflite", hint, "embedding", embed_shape
        )
        self._shapes = {id(self._mel): mel_shape, id(self._embed): embed_shape}
        self._lock = threading.Lock()  # an interpreter runs one call at a time
        # tensor indices stay the same through a resize; details are dicts built on each call
        self._tensors = {
            id(net): (net.get_input_details()[0]["index"], net.get_output_details()[0]["index"])
            for net in (self._mel, self._embed)
        }

    def _run(self, interpreter: Any, data: np.ndarray) -> np.ndarray:
        key = id(interpreter)
        with self._lock:
            if self._shapes.get(key) != data.shape:  # resizing reallocates: only when it changes
                interpreter.resize_tensor_input(0, list(data.shape), strict=False)
                interpreter.allocate_tensors()
                self._shapes[key] = data.shape
            tensor_in, tensor_out = self._tensors[key]
            interpreter.set_tensor(tensor_in, data)
            interpreter.invoke()
            return np.asarray(interpreter.get_tensor(tensor_out))

    def mels(self, samples: np.ndarray) -> np.ndarray:
        """(rows, MEL_BANDS) for int16 samples: a row every MEL_HOP from each MEL_FRAME, scaled
        as openWakeWord scales them for the embedding."""
        rows = self._run(self._mel, samples.astype(np.float32)[None, :])[0, 0]
        return (rows / 10.0 + 2.0).astype(np.float32)

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """(n, EMBED_SIZE) embeddings of (n, EMBED_MELS, MEL_BANDS) mel windows.

        One window per call: resized to a batch, the network's working memory grows with it and
        is never given back (16 windows, when voice first appears, cost the daemon 10.5 MB), and
        one at a time is no slower here. The embeddings are the same to the bit."""
        data = windows[..., None].astype(np.float32)
        out = [self._run(self._embed, data[k : k + 1]) for k in range(len(windows))]
        return (
            np.concatenate(out).reshape(len(windows), EMBED_SIZE)
            if out
            else np.zeros((0, EMBED_SIZE), np.float32)
        )


@functools.cache
def shared_embedding() -> SpeechEmbedding:
    """The process's one SpeechEmbedding, for the wake word and the command rescue alike: each
    loaded pair of networks costs the daemon about 10 MB of its 150 (8.0 MB to load, 1.7 MB more
    at first use)."""
    return SpeechEmbedding()


class EmbeddingStream:
    """Mel rows, step by step, for a stream of int16 samples; any chunking gives the same rows.

    Each step's rows come from its own STEP_SAMPLES and the MEL_FRAME - MEL_HOP samples before
    them (zeros at the start of the stream)."""

    CONTEXT = MEL_FRAME - MEL_HOP

    def __init__(self, embedding: SpeechEmbedding, pending: np.ndarray | None = None) -> None:
        """``pending``: the samples another stream left over (its ``pending``), to go on from."""
        self.embedding = embedding
        self._pending = np.zeros(self.CONTEXT, dtype=np.int16) if pending is None else pending

    @property
    def pending(self) -> np.ndarray:
        """The samples kept for the next step (never changed in place)."""
        return self._pending

    def push(self, samples: np.ndarray) -> np.ndarray:
        """(steps, STEP_MELS, MEL_BANDS): the rows of every step the samples complete."""
        pending = np.concatenate((self._pending, np.asarray(samples, dtype=np.int16)))
        steps = (pending.size - self.CONTEXT) // STEP_SAMPLES
        if steps == 0:
            self._pending = pending
            return np.zeros((0, STEP_MELS, MEL_BANDS), dtype=np.float32)
        size = self.CONTEXT + STEP_SAMPLES
        # one step per call: the mel network clips every row to 80 dB under the loudest of its
        # whole input, so a longer input would give other rows than the stream's steps
        rows = [self.embedding.mels(pending[k * STEP_SAMPLES :][:size]) for k in range(steps)]
        self._pending = pending[steps * STEP_SAMPLES :]
        return np.stack(rows)


def embeddings_of(embedding: SpeechEmbedding, samples: np.ndarray, batch: int = 64) -> np.ndarray:
    """(steps, EMBED_SIZE): the embedding at the end of every step of a whole recording, as the
    scorer computes them (steps before the first whole window are left out). For training."""
    rows = EmbeddingStream(embedding).push(samples).reshape(-1, MEL_BANDS)
    ends = np.arange(FIRST_STEP + 1, rows.shape[0] // STEP_MELS + 1) * STEP_MELS  # step s: (s+1)*10
    out = np.zeros((ends.size, EMBED_SIZE), dtype=np.float32)
    for at in range(0, ends.size, batch):
        part = ends[at : at + batch]
        out[at : at + part.size] = embedding.embed(
            np.stack([rows[e - EMBED_MELS : e] for e in part])
        )
    return out


# what EmbeddingScorer.scores carries from one call to the next, besides the mel stream's samples
_STREAM_STATE = ("_rows", "_step", "_embedded", "_score", "_vad_pending", "_vad_hops", "_voiced")


class EmbeddingScorer:
    """``StreamingScorer``'s interface over a speech-embedding model: a score (0..1) every 100 ms
    step from the start (over ``primer``, a quiet room, until a whole window is heard), held for
    ``stride`` steps."""

    def __init__(self, model_path: Path, features: dict[str, Any], voice_gate: bool = True):
        self.model_path = model_path
        self.card: Any = None  # the ModelCard, set by tflite_wake.open_scorer
        self.embeddings = int(features["embeddings"])
        self.stride = int(features["stride"])
        self.embedding = shared_embedding()
        self._interpreter = load_interpreter(model_path)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        if tuple(self._input["shape"]) != (1, self.embeddings, EMBED_SIZE):
            raise ModelError(
                f"{model_path}: input shape {tuple(self._input['shape'])} does not match "
                f"{self.embeddings} embeddings of {EMBED_SIZE}; retrain it ({TRAIN_HINT})"
            )
        # mel rows the window needs: the oldest embedding's EMBED_MELS and the steps since
        self.span_steps = (self.embeddings - 1) * self.stride + 1
        self._keep_rows = EMBED_MELS + (self.span_steps - 1) * STEP_MELS
        self.context_seconds = (self._keep_rows * MEL_HOP + MEL_FRAME - MEL_HOP) / SAMPLE_RATE
        self._vad = settled_vad(VOICE_GATE_MODE) if voice_gate else None
        self.model_runs = 0
        # the steps before the first real step's window is whole
        primed = (FIRST_STEP + (self.embeddings - 1) * self.stride) * STEP_SAMPLES
        self.primer = np.random.default_rng(0).normal(0, QUIET_ROOM_RMS, primed).astype(np.int16)
        self._primed: dict[str, Any] = {}
        self.reset()

    def reset(self) -> None:
        """The classifier scores a whole window (2.3 s) and was trained on phrases with a
        room's quiet before them. A wearer speaks as soon as the device has answered, and the
        listener re-arms (resets) the wake word then: so every stream starts as if it had heard
        ``primer``, a quiet room, and the phrase is scored from its first step. The state after
        the primer is computed once and copied: a re-arm costs no network run."""
        if not self._primed:
            self._stream = EmbeddingStream(self.embedding)
            self._rows = np.zeros((0, MEL_BANDS), dtype=np.float32)
            self._step = -1  # the last step completed
            self._embedded: dict[int, np.ndarray] = {}  # step -> its embedding, for the window
            self._score = 0.0
            self._vad_pending = np.zeros(0, dtype=np.int16)
            self._vad_hops = 0
            self._voiced: deque[int] = deque()  # 20 ms hops with voice, recent ones
            for _ in self.scores(self.primer):
                pass
            self._primed = {name: getattr(self, name) for name in _STREAM_STATE}
            self._primed["pending"] = self._stream.pending
        self._stream = EmbeddingStream(self.embedding, self._primed["pending"])
        for name in _STREAM_STATE:  # copies: the stream changes some of them in place
            setattr(self, name, copy.copy(self._primed[name]))

    def scores(self, samples: np.ndarray) -> Iterator[float]:
        """Feed int16 samples; yields the score of every step they complete."""
        self._listen_for_voice(samples)
        for rows in self._stream.push(samples):
            self._rows = np.concatenate((self._rows, rows))[-self._keep_rows :]
            self._step += 1
            first = self._step - (self.embeddings - 1) * self.stride
            if first < FIRST_STEP:
                continue  # within the primer: its window is not whole yet
            if self._step % self.stride == 0:
                self._score = self._window_score(first) if self._voice_in_window() else 0.0
            yield self._score

    def _window_score(self, first: int) -> float:
        steps = range(first, self._step + 1, self.stride)
        self._embedded = {s: e for s, e in self._embedded.items() if s >= first}
        missing = [s for s in steps if s not in self._embedded]
        if missing:
            # row index of step s's last row inside the kept rows
            last = self._rows.shape[0] - 1
            windows = [
                self._rows[last - (self._step - s) * STEP_MELS - EMBED_MELS + 1 :][:EMBED_MELS]
                for s in missing
            ]
            for s, e in zip(missing, self.embedding.embed(np.stack(windows)), strict=True):
                self._embedded[s] = e
        window = np.stack([self._embedded[s] for s in steps])[None]
        return self._classify(window)

    def _classify(self, window: np.ndarray) -> float:
        data = window
        if self._input["dtype"] == np.int8:
            scale, zero = self._input["quantization"]
            data = np.clip(np.round(window / scale + zero), -128, 127)
        self._interpreter.set_tensor(self._input["index"], data.astype(self._input["dtype"]))
        self._interpreter.invoke()
        self.model_runs += 1
        out = self._interpreter.get_tensor(self._output["index"]).reshape(-1)[0]
        if self._output["dtype"] == np.int8:
            scale, zero = self._output["quantization"]
            return float((int(out) - zero) * scale)
        return float(out)

    def _listen_for_voice(self, samples: np.ndarray) -> None:
        if self._vad is None:
            return
        pending = np.concatenate((self._vad_pending, np.asarray(samples, dtype=np.int16)))
        whole = pending.size - pending.size % VAD_HOP
        for at in range(0, whole, VAD_HOP):
            if self._vad.is_speech(pending[at : at + VAD_HOP].tobytes(), SAMPLE_RATE):
                self._voiced.append(self._vad_hops)
            self._vad_hops += 1
        self._vad_pending = pending[whole:]

    def _voice_in_window(self) -> bool:
        """Whether the VAD heard voice in the audio the window covers. Only hops that every
        chunking has heard by this step count: those that end by the step's last sample."""
        if self._vad is None:
            return True
        end = (self._step + 1) * STEP_SAMPLES // VAD_HOP  # hops wholly before the step's end
        start = end - int(self.context_seconds * SAMPLE_RATE) // VAD_HOP - 1
        while self._voiced and self._voiced[0] < start:
            self._voiced.popleft()
        return any(start <= hop < end for hop in self._voiced)
