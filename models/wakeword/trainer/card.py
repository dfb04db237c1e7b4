"""The model card for people (``NAME.md``): how the model was made and how well it does, in
sentences, from the card's JSON (``ModelCard``: metrics and extra)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.listening.tflite_wake import ModelCard
from device.wakeword.eval import TAIL_PEAKS, trigger_text

from . import chinese, real


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


def _threshold_sentence(validation: dict, on_people: bool = False) -> str:
    budget = validation["false_accepts_per_hour_budget"]
    if on_people:  # real.choose_on_people
        return (f"The threshold, trigger level and smoothing have the fewest false rejects (of "
                f"the people below saying the phrase, or else of the held-out voices' clips) "
                f"with at most {budget:g} false accepts per hour in the real talk below, as the "
                f"tail of its {TAIL_PEAKS} highest peaks foretells it; the synthetic talk does "
                f"not bound them.")  # fmt: skip
    hours = validation.get("negative_hours")  # not in cards made before it was recorded
    talk = f"{hours:g} h of their talk" if hours else "their talk"
    accents = validation.get("accents_negative_hours")  # nor in those made before this
    if accents:
        talk += (f" and in {accents:g} h of talk half read by other languages' voices, each on "
                 f"its own")  # fmt: skip
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


@dataclass(frozen=True)
class _Words:
    """The parts of the card that differ by language (``data["language"]``, English if none)."""

    speech: str  # who spoke the training clips
    talk_aside: str  # what else is in the talk without the phrase
    mined_from: str  # the talk mined for hard negatives
    held_out: str  # who the held-out speakers are
    negatives: str  # what the test's talk is made of
    limits: str = ""  # more to say under "Limits"


def _english_words(data: dict[str, Any]) -> _Words:
    espeak_voices = [v for v in data["train_voices"] if ":" not in v]
    return _Words(
        speech=f"""Speech from espeak-ng: {len(espeak_voices)} English
voices ({", ".join(espeak_voices)}) with {data["train_variants"]} variants{_made_up(data)}, at
random speeds and pitches. {_other_engines_sentence(data)}""",
        talk_aside=_accents_sentence(data),
        mined_from="fresh English talk",
        held_out=f"""voices {", ".join(data["heldout_voices"])} with variants the model never heard
({", ".join(data["heldout_variants"][:8])}, ...).""",
        negatives="""sentences from random dictionary words and everyday phrases, a quarter of them
confusable ("hey there", "zero", "hero", "hey hero", ...), with pauses of room noise; in training
also single words said alone, then silence.""",
    )


def _chinese_words(data: dict[str, Any]) -> _Words:
    share = f"{data['english_share']:.0%}"
    voice = ", ".join(data["train_voices"])
    english, heldout_english = data["english_voices"], data["heldout_english_voices"]
    return _Words(
        speech=f"""Speech from espeak-ng's one Mandarin voice ({voice}, fed the
tone-numbered pinyin pypinyin makes of the characters), as itself and with
{data["train_variants"]} variants{_made_up(data)}, at random speeds and pitches. No other engine
speaks Chinese here.""",
        talk_aside=f"""{share} of the sentences and single words without the phrase are English,
read by espeak-ng's English voices ({", ".join(english)}): people mix languages, and the
device hears English too.""",
        mined_from=f"fresh talk ({share} of it English)",
        held_out=f"""the same voice, {", ".join(data["heldout_voices"])}, with variants the model
never heard ({", ".join(data["heldout_variants"][:8])}, ...), every held-out clip one of them.
espeak-ng has one Mandarin voice, so held out means held-out variants of the same voice, not
other voices; the test's English talk is read by the held-out English voices
({", ".join(heldout_english)}).""",
        negatives=f"""Chinese sentences from random words of pypinyin's dictionary and everyday
phrases ("{chinese.EVERYDAY[0]}", "{chinese.EVERYDAY[1]}", ...), a quarter of them confusable
({chinese.examples()}, ...), and English sentences, with pauses of room noise; in training also
single words said alone, then silence.""",
        limits="""

No recordings of real people saying Chinese are here (`../shared/real-speech` is English only),
so how it does on people is unknown; one synthetic Mandarin voice is all it heard.""",
    )


def _network_words(card: ModelCard) -> tuple[str, str]:
    """(what the network is and what it hears, what was done to its training windows)."""
    x = card.extra
    if card.features.get("kind") == "speech-embedding":
        over = (
            f"a two-layer classifier\nover {card.features['embeddings']} speech embeddings "
            "(openWakeWord's front end: Google's, learnt from real speech)"
        )
        return over, (
            "Windows that end inside the phrase (from 0.2 s after it starts to 0.15 s before it "
            "ends) are negatives, so that it fires once the phrase is over. Every window of the "
            "talk is trained on; nothing is masked or warped."
        )
    means = " (each band less its mean over the second)" if x.get("band_means_removed") else ""
    count = len(x.get("networks", []))
    what = f"the average of {count} DS-CNNs" if count > 1 else "a DS-CNN"
    features = {"micro": "TFLite Micro (noise-suppressed, PCAN)"}.get(
        str(card.features.get("kind")), "log-mel"
    )
    over = f"{what}\nover 1 s of 40-band {features} features{means}"
    return over, f"{_warp_sentence(x)}SpecAugment masks frames and bands."


def model_card_markdown(card: ModelCard, file_name: str) -> str:
    m, x = card.metrics, card.extra
    data = x["data"]
    words = _chinese_words(data) if data.get("language") == "zh" else _english_words(data)
    fa_per_hour = m["false_accepts_per_hour"]
    over, tricks = _network_words(card)
    by_noise = ", ".join(f"{k} {100 * v:.1f}%" for k, v in m["false_reject_rate_by_noise"].items())
    on_people = bool(m.get("real")) and card.features.get("kind") == "speech-embedding"
    limits = (
        "Children, strong accents and real rooms may do worse than the people above:"
        if m.get("real")
        else "Synthetic voices only. Real voices, children, strong accents and real rooms will "
        "do worse:"
    )
    reads = "the threshold, trigger level and smoothing"
    if card.phrase_reach_seconds:
        reads += (f", and how far back the phrase reaches when it fires "
                  f"({card.phrase_reach_seconds:g} s: audio the recogniser is given),")  # fmt: skip
    return f"""# Wake-word model card: "{card.phrase}"

`{file_name}`: {x["model_bytes"]:,} bytes, {x["parameters"]:,} parameters, int8 TFLite, {over},
scored {x["scores_per_second"]} times a second.
Made by ZeroPin's own trainer; the device reads {reads} from
`{Path(file_name).stem}.json`.

## How it was made

    {x["command"]}

On {x["trained_on"]}, in {x["minutes"]["total"]} minutes ({x["minutes"]["data"]} making data,
{x["minutes"]["training"]} training). {words.speech} {data["positive_clips"]:,} phrase
clips and {data["windows"]:,} windows in all ({data["positive_windows"]:,} positive).
{words.talk_aside} Clips are sped up or slowed down and degraded with room
echo, small-speaker band-limiting, level changes and noise (white, pink, brown, hum, babble).
{tricks}
Then {data.get("hard_negatives", 0):,} hard negatives mined from {words.mined_from} in rounds.
Seed {data["seed"]}.{_networks_sentence(x)}

## How well it does

Held out: {words.held_out}

| | |
|---|---|
| threshold | {trigger_text(card.threshold, card.trigger_level, card.smoothing)} |
| false rejects | {100 * m["false_reject_rate"]:.1f}% of {m["positives"]} clips ({by_noise}) |
| false accepts | {m["false_accepts"]} in {m["negative_hours"]} h of talk ({fa_per_hour} per hour) |
| CPU per audio second | {m["cpu_per_audio_second"]} (this machine, scoring) |

The negatives are {words.negatives}
{_threshold_sentence(m["validation"], on_people)}
{real.markdown(m["real"]) if m.get("real") else ""}
## Limits

{limits} record a few dozen of your own clips
(`zeropin wakeword record "{card.phrase}" YOUR_CLIPS`) and check with
`zeropin wakeword eval {file_name} --positives YOUR_CLIPS --negatives SOME_TALK`.{words.limits}
"""
