"""Hard negatives: the moments of fresh talk that the model, as trained so far, mistakes for the
phrase. The device scores ten windows a second, 36,000 an hour, so a false accept rate under one
in two hours needs the rare near-misses in training, not just random windows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from device.listening.features import CONTEXT_FRAMES, LOG_MEL, MEL_BANDS, FrontEnd
from device.listening.tflite_wake import STEP_FRAMES

from .augment import to_int16


def stream_windows(audio: np.ndarray, front: FrontEnd = LOG_MEL) -> np.ndarray:
    """Every model input the device would score in ``audio``: (n, CONTEXT_FRAMES, MEL_BANDS).

    The device computes rows STEP_FRAMES at a time and scores once it holds CONTEXT_FRAMES, so
    its windows start at row 1, 1 + STEP_FRAMES, ... (49 is not a multiple of 5)."""
    rows = front.rows(to_int16(audio))
    first = -(-CONTEXT_FRAMES // STEP_FRAMES) * STEP_FRAMES - CONTEXT_FRAMES
    if len(rows) < first + CONTEXT_FRAMES:
        return np.zeros((0, CONTEXT_FRAMES, MEL_BANDS), dtype=np.float32)
    view = np.lib.stride_tricks.sliding_window_view(rows, (CONTEXT_FRAMES, MEL_BANDS))
    return view[first::STEP_FRAMES, 0]


def hard_negatives(
    model: Any,
    parts: list[np.ndarray],
    front: FrontEnd = LOG_MEL,
    min_score: float = 0.05,
    minutes_per_batch: float = 5.0,
) -> np.ndarray:
    """Windows of ``parts`` (talk without the phrase) that ``model`` scores at ``min_score`` or
    more, as training features."""
    found = []
    batch: list[np.ndarray] = []
    length = 0
    for index, part in enumerate(parts):
        batch.append(part)
        length += part.size
        if length < minutes_per_batch * 60 * 16000 and index < len(parts) - 1:
            continue
        windows = stream_windows(np.concatenate(batch), front)
        scores = model.predict(windows[..., None], batch_size=2048, verbose=0).reshape(-1)
        found.append(np.array(windows[scores >= min_score]))
        batch, length = [], 0
    return np.concatenate(found) if found else np.zeros((0, CONTEXT_FRAMES, MEL_BANDS), np.float32)
