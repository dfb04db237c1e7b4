"""Loading a TFLite model safely: from ``tflite_runtime`` (Python <= 3.11, numpy < 2) or else
``ai_edge_litert``, after a child process has shown that the file does not crash the runtime.
Every model the device runs (wake word, speech embedding, command model) is loaded here."""

from __future__ import annotations

import hashlib
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

from device.errors import ModelError

TRAIN_HINT = 'train one with `zeropin wakeword train "hey zero" --out FILE.tflite`'


_INTERPRETERS = ("tflite_runtime.interpreter", "ai_edge_litert.interpreter")

# Loads a model from stdin: run in a child process first, since a damaged file can crash the
# runtime instead of raising (a truncated model segfaulted tflite-runtime 2.14 here, at random:
# it reads past the end of the buffer).
_TRIAL_LOAD = """
import importlib, sys
Interpreter = importlib.import_module(sys.argv[1]).Interpreter
interpreter = Interpreter(model_content=sys.stdin.buffer.read(), num_threads=1)
if sys.argv[2:]:
    interpreter.resize_tensor_input(0, [int(n) for n in sys.argv[2:]], strict=False)
interpreter.allocate_tensors()
"""
_loads_safely: set[str] = set()  # sha256 of model bytes that a child process loaded


def _runtime() -> tuple[str, Any]:
    for module in _INTERPRETERS:
        try:
            return module, importlib.import_module(module).Interpreter
        except ImportError:
            continue
    raise ModelError(
        "no TFLite runtime: pip install tflite-runtime (Python <= 3.11) or ai-edge-litert"
    )


def _check_loads_safely(
    model_path: Path, content: bytes, module: str, hint: str, shape: tuple[int, ...]
) -> None:
    digest = hashlib.sha256(content).hexdigest()
    if digest in _loads_safely:
        return
    try:
        trial = subprocess.run(
            [sys.executable, "-c", _TRIAL_LOAD, module, *map(str, shape)],
            input=content,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelError(f"{model_path}: could not test-load the model: {exc}") from exc
    if trial.returncode < 0:
        raise ModelError(
            f"{model_path} crashed the TFLite runtime (signal {-trial.returncode}): the file is "
            f"damaged or cut short; copy it again, or {hint}"
        )
    if trial.returncode != 0:  # not loaded here either: the same memory may not fail cleanly
        lines = trial.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"]
        raise ModelError(f"{model_path}: the TFLite runtime cannot run it: {lines[-1]}")
    _loads_safely.add(digest)


def read_model_file(model_path: Path, what: str, hint: str) -> bytes:
    """The model's bytes, or ModelError naming ``what`` and how to make one (``hint``)."""
    if not model_path.is_file():
        raise ModelError(f"{what} {model_path} not found; {hint}")
    try:
        return model_path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{model_path}: cannot read the {what}: {exc.strerror}") from exc


def load_interpreter(
    model_path: Path,
    hint: str = TRAIN_HINT,
    what: str = "wake-word model",
    input_shape: tuple[int, ...] = (),
) -> Any:
    """A TFLite interpreter for ``model_path``, from tflite_runtime or else ai_edge_litert.
    ``hint`` (how to make one) and ``what`` (the kind of model) go into its errors;
    ``input_shape``, if given, replaces the model's own before its tensors are allocated (a
    network whose stored input is too short to run, as the speech embedding's mel network)."""
    module, Interpreter = _runtime()
    content = read_model_file(model_path, what, hint)
    if content[4:8] != b"TFL3":
        raise ModelError(f"{model_path} is not a TFLite model (no TFL3 identifier); {hint}")
    _check_loads_safely(model_path, content, module, hint, input_shape)
    try:
        interpreter = Interpreter(model_content=content, num_threads=1)
        if input_shape:
            interpreter.resize_tensor_input(0, list(input_shape), strict=False)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{model_path}: the TFLite runtime cannot run it: {exc}") from exc
    return interpreter
