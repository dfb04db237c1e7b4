"""The model card for people (``NAME.md``): how the model was made and how well it does, in
sentences, from the card's JSON (``ModelCard``: metrics and extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from device.listening.tflite_wake import ModelCard
from device.wakeword.eval import trigger_text

from . import real


def _other_engines_sentence(data: dict) -> str:
    others = [v for v in data["train_voices"] if ":" in v]
    held = [v for v in data["heldout_voices"] if ":" in v]
    if not others:
        return "Only espeak-ng spoke (--other-engines adds flite's, festival's and Piper's voices)."
    return (f"Other engines' voices (--other-engines) joined them: "
            f"{', '.join(others)}; flite and festival keep one speaker for the test "
            f"({', '.join(held) or 'none'}).")  # fmt: skip


def _warp_sentence(card: dict) -> str:
    warp = card.get("formant_warp") or {}
    if not warp.get("share"):
        return ""
    low, high = warp["factors"]
    tilt = f" and tilted by up to {warp['tilt_db']:g} dB" if warp.get("tilt_db") else ""
    share = f"{100 * warp['share']:g}%"
    return (
        f"In {share} of the windows, drawn afresh every epoch, the formants are scaled by a "
        f"factor between {low:g} and {high:g} (other throats){tilt}. "
    )


def _made_up(data: dict) -> str:
    count = data.get("made_up_variants", 0)
    return f" and {count} more bred from them (crosses, nudged)" if count else ""


def _threshold_sentence(validation: dict) -> str:
    hours = validation.get("negative_hours")  # not in cards made before it was recorded
    talk = f"{hours:g} h of their talk" if hours else "their talk"
    accents = validation.get("accents_negative_hours")  # nor in those made before this
    if accents:
        talk += (f" and in {accents:g} h of talk half read by other languages' voices, each on "
                 f"its own")  # fmt: skip
    budget = validation["false_accepts_per_hour_budget"]
    return (f"The threshold, trigger level and smoothing have the fewest false rejects on clips "
            f"by the held-out voices (from another seed than the test's, so these voices chose "
            f"the rule too) with at most {budget:g} false accepts per hour in {talk}.")  # fmt: skip


def _networks_sentence(extra: dict) -> str:
    networks = extra.get("networks", [])  # not in cards made before there could be several
    if len(networks) < 2:
        return ""
    seeds = ", ".join(str(n["network_seed"]) for n in networks)
    return (f" The model is the average of {len(networks)} networks trained on these windows, "
            f"each from its own seed ({seeds}) and mining the same talk for its own mistakes "
            f"(counted together above); the device runs them all.")  # fmt: skip


def _accents_sentence(data: dict[str, Any]) -> str:
    accents = data.get("accent_voices", 0)
    if not accents:
        return (
            "Half the talk without the phrase is read by espeak-ng's voices for other "
            "languages, as accents."
        )
    return (
        f"{data['accent_share']:.0%} of the phrase clips are said by {accents} of espeak-ng's "
        f"voices for other languages (accents); half the talk without the phrase is read by its "
        f"other-language voices."
    )


def model_card_markdown(card: ModelCard, file_name: str) -> str:
    m, x = card.metrics, card.extra
    data = x["data"]
    espeak_voices = [v for v in data["train_voices"] if ":" not in v]
    said_by_accents = _accents_sentence(data)
    fa_per_hour = m["false_accepts_per_hour"]
    means = " (each band less its mean over the second)" if x.get("band_means_removed") else ""
    count = len(x.get("networks", []))
    what = f"the average of {count} DS-CNNs" if count > 1 else "a DS-CNN"
    features = {"micro": "TFLite Micro (noise-suppressed, PCAN)"}.get(
        str(card.features.get("kind")), "log-mel"
    )
    by_noise = ", ".join(f"{k} {100 * v:.1f}%" for k, v in m["false_reject_rate_by_noise"].items())
    return f"""# Wake-word model card: "{card.phrase}"

`{file_name}`: {x["model_bytes"]:,} bytes, {x["parameters"]:,} parameters, int8 TFLite, {what}
over 1 s of 40-band {features} features{means}, scored {x["scores_per_second"]} times a second.
Made by ZeroPin's own trainer; the device reads the threshold, trigger level and smoothing from
`{Path(file_name).stem}.json`.

## How it was made

    {x["command"]}

On {x["trained_on"]}, in {x["minutes"]["total"]} minutes ({x["minutes"]["data"]} making data,
{x["minutes"]["training"]} training). Speech from espeak-ng: {len(espeak_voices)} English
voices ({", ".join(espeak_voices)}) with {data["train_variants"]} variants{_made_up(data)}, at
random speeds and pitches. {_other_engines_sentence(data)} {data["positive_clips"]:,} phrase
clips and {data["windows"]:,} windows in all ({data["positive_windows"]:,} positive).
{said_by_accents} Clips are sped up or slowed down and degraded with room
echo, small-speaker band-limiting, level changes and noise (white, pink, brown, hum, babble).
{_warp_sentence(x)}SpecAugment masks frames and bands.
Then {data.get("hard_negatives", 0):,} hard negatives mined from fresh English talk in rounds.
Seed {data["seed"]}.{_networks_sentence(x)}

## How well it does

Held out: voices {", ".join(data["heldout_voices"])} with variants the model never heard
({", ".join(data["heldout_variants"][:8])}, ...).

| | |
|---|---|
| threshold | {trigger_text(card.threshold, card.trigger_level, card.smoothing)} |
| false rejects | {100 * m["false_reject_rate"]:.1f}% of {m["positives"]} clips ({by_noise}) |
| false accepts | {m["false_accepts"]} in {m["negative_hours"]} h of talk ({fa_per_hour} per hour) |
| CPU per audio second | {m["cpu_per_audio_second"]} (this machine, scoring) |

The negatives are sentences from random dictionary words and everyday phrases, a quarter of them
confusable ("hey there", "zero", "hero", "hey hero", ...), with pauses of room noise; in training
also single words said alone, then silence.
{_threshold_sentence(m["validation"])}
{real.markdown(m["real"]) if m.get("real") else ""}
## Limits

Synthetic voices only. Real voices, children, strong accents and real rooms will do worse: record
a few dozen of your own clips (`zeropin wakeword record "{card.phrase}" YOUR_CLIPS`) and check with
`zeropin wakeword eval {file_name} --positives YOUR_CLIPS --negatives SOME_TALK`.
"""
