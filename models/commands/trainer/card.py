"""The model's card: ``<model>.json`` beside the ``.tflite``, read by the device
(``device.listening.command_model.CommandCard``): labels, threshold, window, features, and how
the model was made and did, for people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from device.listening.command_model import WINDOW_CARD
from device.listening.features import LOG_MEL

from .network import BLOCKS, CHANNELS

# What the Chinese command model's card says of itself (``write_card``'s default ``about``)
CHINESE = {
    "network": f"DS-CNN, {BLOCKS} blocks of {CHANNELS} channels, softmax; int8 TFLite",
    "voice": "espeak-ng cmn-latn-pinyin (pypinyin with phrases), variants split in three",
}


def write_card(
    model_path: Path,
    labels: tuple[str, ...],
    threshold: float,
    language: str,
    metrics: dict[str, Any],
    made: dict[str, Any],
    *,
    window: dict[str, Any] | None = WINDOW_CARD,
    features: dict[str, Any] = LOG_MEL.card,
    about: dict[str, Any] = CHINESE,
) -> Path:
    """``window`` and ``features`` are what the device checks the card for; ``about``, what the
    model is and was made from, for people."""
    card = {
        "kind": "command-model",
        "language": language,
        "labels": list(labels),
        "threshold": threshold,
        "window": window,
        "features": features,
        **about,
        "metrics": metrics,
        "made": made,
    }
    path = model_path.with_suffix(".json")
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
