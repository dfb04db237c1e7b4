"""The doctor's look at the speech models: each one in the manifest installed and verified, or
what to run. Apart from the other checks, so the companion page can show the same findings
without loading what those measure (numpy, the drivers)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from device.config.schema import Config
from device.doctor.findings import Finding, Level
from device.errors import ModelError
from device.listening.tflite_wake import ModelCard
from device.system.manifest import ModelSpec, load_manifest, marker_path, shipped_file, verify
from device.system.paths import (
    CHINESE_COMMANDS,
    ENGLISH_COMMANDS,
    NO_CHINESE_POCKETSPHINX,
    VOSK_MODELS,
    command_rescued,
    models_dir,
    resolved_vosk_model,
    shipped_wake_model,
)


def check_models(
    specs: Mapping[str, ModelSpec],
    models_dir: Path,
    *,
    required: frozenset[str] = frozenset(),
    in_use: frozenset[str] = frozenset(),
    locations: Mapping[str, Path] | None = None,
    fallbacks: Mapping[str, str] | None = None,
    shipped_root: Path | None = None,
) -> list[Finding]:
    """One finding per manifest entry: shipped ones hashed, downloaded ones looked for.

    A problem with a ``required`` model (one the configuration cannot run without) is FAIL;
    otherwise WARN, with its ``fallbacks`` note; ``in_use`` ones (the configuration runs them, and
    runs without them) are not said to be unused. ``locations`` overrides where a model should be.
    """
    findings = []
    for name, spec in specs.items():
        fail = Level.FAIL if name in required else Level.WARN
        if spec.path:
            try:
                path = shipped_file(spec, shipped_root)
            except ModelError as exc:
                used = name in required or name in in_use
                unused = "" if used else " (not in use with this configuration)"
                findings.append(Finding("models", fail, f"{exc}{unused}", name))
            else:
                findings.append(Finding("models", Level.OK, f"{path} matches its sha256", name))
            continue
        path = (locations or {}).get(name, models_dir / spec.unpacks_to)
        fallback = (fallbacks or {}).get(name, "")
        fallback = f"; {fallback}" if fallback and name not in required else ""
        if verify(spec, path):
            findings.append(Finding("models", Level.OK, f"installed at {path}, verified", name))
        elif path.exists() and marker_path(path).exists():
            detail = f"{path} came from another download than the manifest names"
            fix = f"run `zeropin models fetch {name}` to replace it"
            findings.append(Finding("models", Level.WARN, f"{detail}; {fix}", name))
        elif path.exists():
            detail = f"present at {path} (installed by hand; sha256 not checked)"
            findings.append(Finding("models", Level.OK, detail, name))
        else:
            detail = f"not installed at {path}: run `zeropin models fetch {name}`{fallback}"
            findings.append(Finding("models", fail, detail, name))
    return findings


def check_model_file(subject: str, path: Path) -> Finding:
    """A wake-word model the configuration names outside the manifest (``[wake] model``): there,
    and with a card the daemon can read (it would refuse to start on a bad one)."""
    if not path.is_file():
        return Finding(
            "models", Level.FAIL, f"{path} not found; fix the path or remove it", subject
        )
    try:
        card = ModelCard.load(path)
    except ModelError as exc:
        return Finding("models", Level.FAIL, str(exc), subject)
    return Finding("models", Level.OK, f"{path} is there, for {card.phrase!r}", subject)


def model_findings(cfg: Config) -> list[Finding]:
    try:
        specs = load_manifest()
    except ModelError as exc:
        return [Finding("models", Level.FAIL, str(exc), "manifest")]
    vosk = VOSK_MODELS[cfg.device.language][0]
    chinese = cfg.device.language == "zh"
    required = {CHINESE_COMMANDS} if chinese and cfg.asr.engine == "auto" else set()
    if "vosk" in (cfg.asr.engine, cfg.wake.engine):
        required.add(vosk)
    if cfg.wake.engine == "tflite" and not cfg.wake.model:
        required.add(shipped_wake_model(cfg))
    heard_by = "the command model" if chinese else "pocketsphinx"
    findings = check_models(
        specs,
        models_dir(cfg),
        required=frozenset(required),
        in_use=frozenset({ENGLISH_COMMANDS} if command_rescued(cfg) else ()),
        locations={vosk: resolved_vosk_model(cfg)},
        fallbacks={vosk: f"until then {heard_by} recognises the commands only"},
    )
    if chinese:
        level = Level.FAIL if "pocketsphinx" in (cfg.asr.engine, cfg.wake.engine) else Level.OK
        findings.append(Finding("models", level, NO_CHINESE_POCKETSPHINX, "Chinese"))
    if cfg.wake.engine == "tflite" and cfg.wake.model:
        findings.append(check_model_file("[wake] model", Path(cfg.wake.model).expanduser()))
    return findings
