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


def write_card(
    model_path: Path,
    labels: tuple[str, ...],
    threshold: float,
    language: str,
    metrics: dict[str, Any],
    made: dict[str, Any],
) -> Path:
    card = {
        "kind": "command-model",
        "language": language,
        "labels": list(labels),
        "threshold": threshold,
        "window": WINDOW_CARD,
        "features": LOG_MEL.card,
        "network": f"DS-CNN, {BLOCKS} blocks of {CHANNELS} channels, softmax; int8 TFLite",
        "voice": "espeak-ng cmn-latn-pinyin (pypinyin with phrases), variants split in three",
        "metrics": metrics,
        "made": made,
    }
    path = model_path.with_suffix(".json")
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
