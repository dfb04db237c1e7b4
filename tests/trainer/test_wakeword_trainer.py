"""The wake-word trainer end to end on a tiny budget, and ``zeropin wakeword eval``'s output.

The budget is far too small for a useful model; what is checked is that every step runs offline
and hands over a model the device loads, with a card that says how it was made and how it did.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import needs_real_speech, small_real_speech_tree

from device.errors import ModelError
from device.listening.features import CONTEXT_FRAMES, FRONT_ENDS, band_centres_hz, log_mel
from device.listening.tflite_wake import ModelCard, StreamingScorer, TFLiteWakeDetector
from device.wakeword.eval import trigger_text
from device.wakeword.real_speech import DEFAULT_ROOT
from drivers.audio_format import read_wav

pytest.importorskip("tensorflow")  # the train extra; ./dev installs it

from wakeword_trainer import engines, network  # noqa: E402
from wakeword_trainer.card import _threshold_sentence, _warp_sentence  # noqa: E402
from wakeword_trainer.dataset import (  # noqa: E402
    RECORDING_COPIES,
    build_windows,
    positive_jobs,
    synthesize,
)
from wakeword_trainer.settings import DataSettings, TrainSettings  # noqa: E402
from wakeword_trainer.speech import (  # noqa: E402
    REPEAT_PROBE,
    Voice,
    accent_voices,
    other_voices,
    split_voices,
)
from wakeword_trainer.testset import write_test_set  # noqa: E402
from wakeword_trainer.train import train_wake_word  # noqa: E402

TINY = TrainSettings(
    data=DataSettings(
        positives=60, sentences=40, confusables=20, noise_windows=40, copies=1, front_end="log-mel"
    ),
    epochs=1,
    mining_rounds=1,
    mining_minutes=0.5,
    mining_epochs=1,
    validation_positives_per_snr=3,
    validation_minutes=0.5,
    accent_validation_minutes=0.5,
    test_positives_per_snr=3,
    test_minutes=0.5,
    networks=2,
)


WRITTEN_SETS: list[tuple[str, bool, int]] = []  # (folder name, held out, seed), as training goes


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> tuple[Path, Path]:
    from wakeword_trainer import train

    def recorded(phrase, split, folder, *, held_out, seed, **kwargs):
        WRITTEN_SETS.append((Path(folder).name, held_out, seed))
        return write_test_set(phrase, split, folder, held_out=held_out, seed=seed, **kwargs)

    out = tmp_path_factory.mktemp("trained")
    model = out / "hey_jarvis.tflite"
    settings = TINY
    if DEFAULT_ROOT.is_dir():  # real people's talk chooses the rule too (nobody says the phrase)
        real = small_real_speech_tree(out / "real", per_folder=6)
        settings = replace(TINY, real_speech=str(real))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train, "write_test_set", recorded)
        train_wake_word(
            "Hey  Jarvis", model, settings, command="(test)", work_dir=out / "work", quiet=True
        )
    return model, out / "work" / "heldout"


@needs_real_speech
def test_real_people_choose_the_rule_and_their_other_half_heads_the_card(tiny_model):
    model, _ = tiny_model
    card = json.loads(model.with_suffix(".json").read_text())
    real = card["metrics"]["real"]
    test, validation = real["test_half"], real["validation_half"]
    assert test["positives"] == validation["positives"] == 0  # nobody says "hey jarvis"
    assert test["negative_hours"] > 0 and validation["negative_hours"] > 0
    # both halves together are the whole tree: each recording in exactly one
    root = Path(real["folder"])
    seconds = sum(soundfile.info(str(p)).duration for p in root.rglob("*") if p.is_file())
    hours = test["negative_hours"] + validation["negative_hours"]
    assert hours == pytest.approx(seconds / 3600, abs=0.002)
    markdown = model.with_suffix(".md").read_text()
    assert "## On real people" in markdown and "people the rule never heard" in markdown


def test_tiny_training_run_gives_a_model_the_device_loads(tiny_model):
    model, _ = tiny_model
    detector = TFLiteWakeDetector(model)
    assert detector.phrase == "hey jarvis"
    assert 0.3 <= detector.threshold <= 255 / 256
    audio = np.zeros(32000, dtype="<i2").tobytes()
    detector.process(audio)
    assert 0.0 <= detector.last_score <= 1.0
    assert 10_000 < model.stat().st_size < 60_000 * TINY.networks  # tens of KB a network, int8
    # written atomically: the model and its card, and no temp file beside them
    written = sorted(p.name for p in model.parent.iterdir() if p.is_file())
    assert written == ["hey_jarvis.json", "hey_jarvis.md", "hey_jarvis.tflite"]


def test_the_float_model_is_kept_with_the_test_set_and_exports_cooler(tiny_model):
    """--keep-test-set keeps the Keras model; cooled, it ranks windows alike with softer scores."""
    import tensorflow as tf

    model, heldout = tiny_model
    keras = tf.keras.models.load_model(heldout.parent / "model.keras")
    windows = np.random.default_rng(0).normal(-8, 3, (64, CONTEXT_FRAMES, 40)).astype(np.float32)
    hot = keras.predict(windows[..., None], verbose=0).reshape(-1)
    cool = network.cooled(keras, 4.0).predict(windows[..., None], verbose=0).reshape(-1)
    logit = np.log(hot / (1 - hot))
    np.testing.assert_allclose(cool, 1 / (1 + np.exp(-logit / 4)), rtol=1e-3, atol=1e-5)


def _scores(model: Path, windows: np.ndarray) -> np.ndarray:
    """The device's scores for each window (its scorer, int8 in and out)."""
    scorer = StreamingScorer(model)
    return np.array([scorer.score_window(window) for window in windows])


def test_two_networks_make_one_model_that_scores_their_average(tiny_model, tmp_path):
    """The device runs one .tflite; with --networks 2 it holds both, and its score is the mean of
    their (cooled) scores, to within int8 steps. The kept networks and calibration windows
    export it again."""
    import tensorflow as tf

    model, heldout = tiny_model
    kept = heldout.parent
    networks = [tf.keras.models.load_model(kept / n) for n in ("model.keras", "model_2.keras")]
    calibration = np.load(kept / "calibration.npy")
    windows = np.random.default_rng(1).normal(-8, 3, (64, CONTEXT_FRAMES, 40)).astype(np.float32)
    again = tmp_path / model.name  # names inside differ from the model's, not scores
    again.write_bytes(network.export_int8(networks, calibration, 4.0))
    shutil.copy(model.with_suffix(".json"), again.with_suffix(".json"))
    np.testing.assert_array_equal(_scores(again, windows), _scores(model, windows))
    each = [
        network.cooled(n, 4.0).predict(windows[..., None], verbose=0).reshape(-1) for n in networks
    ]
    first, second = (n.get_weights()[0] for n in networks)
    assert not np.array_equal(first, second)  # two networks, not one twice
    mean = (each[0] + each[1]) / 2
    scores = _scores(model, windows)
    np.testing.assert_allclose(scores, mean, atol=0.003)  # within an int8 step (0.004)
    # and nearer their mean than either network alone
    assert all(np.abs(scores - mean).mean() < np.abs(scores - one).mean() for one in each)
    card = ModelCard.load(model)
    assert [n["network_seed"] for n in card.extra["networks"]] == [0, 1]  # the data's, the next
    assert card.extra["data"]["network_seeds"] == [0, 1]
    assert card.extra["data"]["hard_negatives"] == sum(
        n["hard_negatives"] for n in card.extra["networks"]
    )
    assert card.extra["parameters"] == sum(int(n.count_params()) for n in networks)
    markdown = model.with_suffix(".md").read_text()
    assert "int8 TFLite, the average of 2 DS-CNNs" in markdown
    assert "The model is the average of 2 networks trained on these windows" in markdown


def test_one_network_is_exported_as_it_is():
    """``averaged`` leaves a single network alone, so one network's export is what it was before
    there could be several; the calibration windows are the same ones every time."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    alone = network.build_model()
    assert network.averaged([alone]) is alone
    features = np.random.default_rng(2).normal(size=(800, CONTEXT_FRAMES, 40)).astype(np.float32)
    picked = network.calibration_windows(features)
    assert picked.shape == (500, CONTEXT_FRAMES, 40)
    np.testing.assert_array_equal(picked, network.calibration_windows(features.copy()))
    assert len({w.tobytes() for w in picked}) == 500  # no window twice


def test_the_rule_is_chosen_on_the_held_out_voices_with_other_sentences_than_the_tests(
    tiny_model,
):
    assert WRITTEN_SETS == [("validation", True, 1000), ("heldout", True, 2000)]  # data seed 0
    markdown = tiny_model[0].with_suffix(".md").read_text()
    assert "on clips by the held-out voices (from another seed than the test's" in markdown


def test_card_says_how_it_was_made_and_how_it_did(tiny_model):
    model, _ = tiny_model
    card = ModelCard.load(model)
    assert card.features == FRONT_ENDS[TINY.data.front_end].card
    assert set(card.metrics) >= {"false_reject_rate", "false_accepts_per_hour", "positives"}
    assert card.metrics["positives"] == 3 * 4  # three clips at each of four noise levels
    assert card.extra["command"] == "(test)"
    assert set(card.extra["data"]["heldout_voices"]).isdisjoint(card.extra["data"]["train_voices"])
    markdown = model.with_suffix(".md").read_text()
    assert '# Wake-word model card: "hey jarvis"' in markdown
    assert card.extra["band_means_removed"] is network.BAND_MEANS_REMOVED
    assert ("each band less its mean" in markdown) is network.BAND_MEANS_REMOVED
    warp = card.extra["formant_warp"]
    assert warp["share"] == network.VOICE_SHARE
    assert warp["factors"] == [round(1 - network.WARP, 3), round(1 + network.WARP, 3)]
    low, high = warp["factors"]
    said = f"the formants are scaled by a factor between {low:g} and {high:g} (other throats). "
    assert (said in markdown) is (network.VOICE_SHARE > 0)
    off = {"formant_warp": {**warp, "share": 0.0}}
    assert _warp_sentence(off) == _warp_sentence({}) == ""
    rule = trigger_text(card.threshold, card.trigger_level, card.smoothing)
    assert f"| threshold | {rule} |" in markdown
    validation = card.metrics["validation"]
    assert 0.008 <= validation["negative_hours"] <= 0.017  # the half minute asked for, to a clip
    assert 0.008 <= validation["accents_negative_hours"] <= 0.017
    assert validation["within_budget"] is (
        max(validation["false_accepts_per_hour"], validation["accents_false_accepts_per_hour"])
        <= validation["false_accepts_per_hour_budget"]
    )
    assert (
        f"per hour in {validation['negative_hours']:g} h of their talk and in "
        f"{validation['accents_negative_hours']:g} h of talk half read by other languages' "
        "voices, each on its own."
    ) in markdown


def test_any_time_of_talk_at_all_is_at_least_a_sentence():
    """Else a tiny --accent-validation-minutes left a folder with no WAV files, found only once
    the network was trained."""
    from wakeword_trainer.testset import talk

    split = split_voices()
    assert talk("hey zero", split, 0.0, held_out=False, seed=0) == []
    pause, sentence = talk("hey zero", split, 1e-7, held_out=False, seed=0)[:2]
    assert sentence.size > 16000 // 4  # a quarter of a second or more of speech


def test_a_card_without_accents_talk_says_the_threshold_was_chosen_on_the_voices_talk_alone():
    validation = {"negative_hours": 4.0, "false_accepts_per_hour_budget": 0.25}
    assert _threshold_sentence(validation).endswith(
        "with at most 0.25 false accepts per hour in 4 h of their talk."
    )
    validation["accents_negative_hours"] = 4.001
    assert _threshold_sentence(validation).endswith(
        "in 4 h of their talk and in 4.001 h of talk half read by other languages' voices, "
        "each on its own."
    )


def test_training_windows_are_labelled_and_shaped():
    features, labels = build_windows("hey zero", split_voices(), TINY.data, quiet=True)
    assert features.shape[1:] == (49, 40)
    assert features.dtype == np.float32 and np.isfinite(features).all()
    positives = int(labels.sum())
    assert positives == 60  # one window per phrase clip with copies=1
    assert len(labels) > 2 * positives  # cut-short phrases, talk, confusables and noise


def tone_window() -> tuple[np.ndarray, int]:
    """One model input of a steady 1 kHz tone, and the band it is loudest in."""
    t = np.arange(16000) / 16000
    rows = log_mel((0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))[:CONTEXT_FRAMES]
    return rows, int(rows.mean(axis=0).argmax())


def test_reshaping_moves_formants_and_tilts_the_bands():
    """A tone at 1 kHz: warped by 1.1 its energy sits in the band of 1.1 kHz; an equaliser adds
    its gain (in dB, as log power) to every band; no warp and no gain leave it as it was."""
    rows, peak = tone_window()
    centres = band_centres_hz()
    warped = network.reshaped(rows, 1.1, np.zeros(5))
    expected = int(np.abs(centres - centres[peak] * 1.1).argmin())
    assert int(warped.mean(axis=0).argmax()) == expected != peak
    np.testing.assert_allclose(network.reshaped(rows, 1.0, np.zeros(5)), rows, atol=1e-5)
    louder = network.reshaped(rows, 1.0, np.full(5, 10.0))
    np.testing.assert_allclose(louder - rows, np.log(10), atol=1e-4)  # +10 dB: power times 10


def tone_peaks(batch_size: int, share: float, monkeypatch) -> tuple[np.ndarray, float]:
    """A 1 kHz tone in every window, through ``masked`` with VOICE_SHARE = ``share``: the centre of
    the loudest band of each window over the tone's own, and one band's step at 1 kHz."""
    rows, peak = tone_window()
    centres = band_centres_hz()
    monkeypatch.setattr(network, "VOICE_SHARE", share)
    out = network.masked(np.repeat(rows[None], batch_size, axis=0), np.random.default_rng(0))
    moved_to = centres[out.mean(axis=1).argmax(axis=1)]
    return moved_to / centres[peak], centres[peak + 1] / centres[peak]


def test_about_voice_share_of_the_training_windows_get_another_throat(monkeypatch):
    """Masking alone moves the tone's band in a few windows; the warp moves it in about
    VOICE_SHARE of them (less the few warps too small to move it), by up to WARP either way."""
    share = network.VOICE_SHARE
    alone, _ = tone_peaks(400, 0.0, monkeypatch)
    always, step = tone_peaks(400, 1.0, monkeypatch)
    ratios, _ = tone_peaks(400, share, monkeypatch)
    assert np.mean(alone != 1.0) < 0.15 < 0.8 < np.mean(always != 1.0)
    assert share - 0.15 < np.mean(ratios != 1.0) < share + 0.1
    low, high = 1 - network.WARP, 1 + network.WARP
    assert always.min() < low * step and always.max() > high / step  # the whole range is used
    assert low / step <= always.min() and always.max() <= high * step  # and no more


def test_a_steady_colouring_of_the_bands_does_not_change_the_score():
    """Each band is taken less its mean over the window, so a voice's tone or a mic's response
    (the same gain in a band all second long) cannot move the score; a change within the
    window still does."""
    model = network.build_model()
    rng = np.random.default_rng(0)
    windows = rng.normal(-8, 3, (16, CONTEXT_FRAMES, 40)).astype(np.float32)
    coloured = windows + rng.normal(0, 2, (1, 1, 40)).astype(np.float32)
    onset = windows.copy()
    onset[:, 30:] += 2.0  # louder from frame 30 on: not steady

    import tensorflow as tf

    # untrained, the score hardly moves at all; what the last layer sees does
    pooled = tf.keras.Model(model.input, model.layers[-3].output)

    def seen(x: np.ndarray) -> np.ndarray:
        return pooled.predict(x[..., None], verbose=0)

    def change(x: np.ndarray) -> float:  # relative to what it sees in the plain windows
        return float(np.abs(seen(x) - seen(windows)).max() / np.abs(seen(windows)).max())

    assert change(coloured) < 1e-3
    assert change(onset) > 1e-2


def test_your_own_recordings_join_the_positives(tmp_path):
    """Three clips "recorded" (here: spoken by a voice the trainer would not use, at 44.1 kHz),
    each added RECORDING_COPIES times; a folder without recordings is named."""
    for n, pitch in enumerate((30, 50, 70)):
        raw = tmp_path / f"raw{n}.wav"
        subprocess.run(["espeak-ng", "-v", "en-gb-scotland", "-p", str(pitch), "-w", str(raw),
                        "hey zero"], check=True)  # fmt: skip
        subprocess.run(["sox", "-D", str(raw), "-r", "44100", str(tmp_path / f"me{n}.wav")],
                       check=True)  # fmt: skip
        raw.unlink()
    settings = replace(TINY.data, recordings=str(tmp_path))
    _, labels = build_windows("hey zero", split_voices(), settings, quiet=True)
    assert int(labels.sum()) == 60 + 3 * RECORDING_COPIES
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match=f"^{empty}: no .wav recordings in it$"):
        build_windows("hey zero", split_voices(), replace(TINY.data, recordings=str(empty)))


def test_other_engines_keep_a_speaker_each_for_the_test():
    """flite's, festival's and Piper's voices (when installed) join the training voices, less one
    speaker of flite and of festival, which only the held-out test hears (Piper has one voice)."""
    installed = engines.voices()
    if not installed:
        pytest.skip("neither flite nor festival is installed (see wakeword_trainer/engines.py)")
    assert not [v for v in split_voices().train_voices if ":" in v]  # only when asked for
    assert DataSettings().other_engines  # which the trainer does by default
    split = split_voices(other_engines=True)
    assert set(split.train_voices).isdisjoint(split.heldout_voices)
    for engine in {voice.split(":")[0] for voice in installed}:
        held = [v for v in split.heldout_voices if v.startswith(f"{engine}:")]
        assert held if engine != "piper" else not held, engine
        assert [v for v in split.train_voices if v.startswith(f"{engine}:")], engine


def test_every_engine_voice_says_the_phrase_at_its_speed():
    """Each installed voice, slow and fast (festival's by the batch): about a second of speech,
    no faster when slow (festival's HTS voice ignores the rate)."""
    installed = engines.voices()
    if not installed:
        pytest.skip("neither flite nor festival is installed (see wakeword_trainer/engines.py)")
    jobs = [(Voice(name, rate, 50), "hey zero") for name in installed for rate in (120, 210)]
    clips = synthesize(jobs, "", quiet=True)
    for (voice, _), clip in zip(jobs, clips, strict=True):
        assert 0.3 < clip.size / 16000 < 2.0, voice
    slow, fast = clips[0::2], clips[1::2]
    assert all(s.size >= f.size for s, f in zip(slow, fast, strict=True))
    assert sum(s.size for s in slow) > 1.2 * sum(f.size for f in fast)


def test_accents_say_the_phrase_as_words_not_letters():
    accents = accent_voices("hey zero")
    assert {"de", "es", "fr-fr", "pl"} <= set(accents)
    assert "ja" not in accents  # espeak-ng's Japanese spells Latin words out: "H, E, Y, ..."


def test_a_voice_that_says_the_same_words_differently_each_time_is_left_out():
    # Such a voice made two runs of one training command build different windows.
    central = Voice("vi-vn-x-central", 175, 50)
    assert len({central.say(REPEAT_PROBE).tobytes() for _ in range(3)}) > 1  # espeak-ng 1.51
    voices = other_voices()
    assert "vi-vn-x-central" not in voices and "vi-vn-x-south" not in voices
    assert "vi" in voices  # northern Vietnamese says it the same way every time
    assert len(voices) > 100


def zeropin_eval(model: Path, positives: Path, negatives: Path, *options: str):
    command = [sys.executable, "-m", "device.cli", "wakeword", "eval", str(model)]
    command += ["--positives", str(positives), "--negatives", str(negatives), *options]
    return subprocess.run(command, capture_output=True, text=True)


def test_eval_command_prints_the_promised_json(tiny_model):
    model, heldout = tiny_model
    result = zeropin_eval(model, heldout / "positives", heldout / "negatives", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert {"false_reject_rate", "false_accepts_per_hour", "threshold"} <= figures.keys()
    card = ModelCard.load(model)
    assert figures["threshold"] == card.threshold
    assert figures["positives"] == 12
    assert figures["false_reject_rate"] == pytest.approx(
        card.metrics["false_reject_rate"], abs=1e-4
    )


def test_eval_reads_several_folders_as_one(tiny_model, tmp_path):
    """--negatives (and --positives) repeated: the figures of the files together, each file
    once, as for one folder holding them all."""
    model, heldout = tiny_model
    talk = sorted((heldout / "negatives").glob("*.wav"))
    clips = sorted((heldout / "positives").rglob("*.wav"))
    assert len(talk) >= 1 and len(clips) == 12
    halves = [tmp_path / "clips_a", tmp_path / "clips_b"]
    for index, clip in enumerate(clips):
        folder = halves[index % 2] / clip.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, folder / clip.name)
    extra = tmp_path / "more_talk"
    extra.mkdir()
    shutil.copy(talk[0], extra / "again.wav")  # the same audio under another name counts

    one = json.loads(zeropin_eval(model, heldout / "positives", heldout / "negatives",
                                  "--json").stdout)  # fmt: skip
    command = [sys.executable, "-m", "device.cli", "wakeword", "eval", str(model), "--json"]
    # a folder named twice counts once, and so does one inside another named
    for folder in (*halves, halves[0], halves[1] / "clean"):
        command += ["--positives", str(folder)]
    command += ["--negatives", str(heldout / "negatives"), "--negatives", str(extra)]
    several = subprocess.run(command, capture_output=True, text=True)
    assert several.returncode == 0, several.stderr
    both = json.loads(several.stdout)
    assert (both["positives"], both["false_rejects"]) == (one["positives"], one["false_rejects"])
    # the copy's hours and false accepts come on top of the folder's
    seconds = len(read_wav(talk[0])) / 2 / 16000
    assert both["negative_hours"] == pytest.approx(one["negative_hours"] + seconds / 3600, abs=2e-3)
    first = json.loads(zeropin_eval(model, heldout / "positives", extra, "--json").stdout)
    assert both["false_accepts"] == one["false_accepts"] + first["false_accepts"]


def test_eval_of_an_empty_folder_says_so(tiny_model, tmp_path):
    model, heldout = tiny_model
    result = zeropin_eval(model, tmp_path, heldout / "negatives")
    assert result.returncode == 1
    assert result.stderr.strip() == f"zeropin: {tmp_path}: no .wav or .flac files in it"


def test_eval_tune_picks_the_rule_choose_rule_picks_and_prints_config_that_loads(
    tiny_model, tmp_path
):
    """--tune: the rule with the fewest false rejects on the folders within the budget, its
    figures, and [wake] lines the device's config loader reads back to that rule."""
    from device.config.sources import load_config
    from device.wakeword.eval import choose_rule, score_folders

    model, heldout = tiny_model
    folders = heldout / "positives", heldout / "negatives"
    scored = score_folders(model, *folders)
    threshold, level, smoothing = choose_rule(scored, 100.0)
    expected = scored.at(threshold, level, smoothing)
    result = zeropin_eval(model, *folders, "--tune", "100", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["tuned_for_false_accepts_per_hour"] == 100.0
    assert (figures["threshold"], figures["trigger_level"], figures["smoothing"]) == (
        threshold,
        level,
        smoothing,
    )
    assert (figures["false_rejects"], figures["false_accepts"]) == (
        expected.false_rejects,
        expected.false_accepts,
    )

    printed = zeropin_eval(model, *folders, "--tune", "100")
    assert printed.returncode == 0, printed.stderr
    toml = printed.stdout[printed.stdout.index("[wake]") :]
    (tmp_path / "config.toml").write_text(toml)
    wake = load_config([tmp_path / "config.toml"], env={}).wake
    assert (wake.threshold, wake.trigger_level, wake.smoothing) == (threshold, level, smoothing)


@pytest.mark.parametrize("budget", ["-1", "inf", "nan"])
def test_eval_tune_refuses_a_budget_that_is_not_a_rate(tiny_model, budget):
    model, heldout = tiny_model
    folders = heldout / "positives", heldout / "negatives"
    refused = zeropin_eval(model, *folders, "--tune", budget)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"zeropin: --tune {float(budget)}: false accepts per hour must be a number, 0 or more"
    )


def test_eval_tune_refuses_a_threshold_beside_it(tiny_model):
    model, heldout = tiny_model
    folders = heldout / "positives", heldout / "negatives"
    both = zeropin_eval(model, *folders, "--tune", "1", "--threshold", "0.5")
    assert both.returncode == 2
    assert "not allowed with argument --tune" in both.stderr


def test_a_natural_share_of_the_clips_and_talk_is_said_by_the_neural_voice():
    split = replace(
        split_voices(), natural_voices=("piper:joe",), natural_share=0.3,
        train_voices=(*split_voices().train_voices, "piper:joe"),
    )  # fmt: skip
    rng = random.Random(0)
    said = [v.name for v, _ in positive_jobs(rng, "hey zero", split, 2000)]
    share = said.count("piper:joe") / len(said)
    assert 0.3 < share < 0.4  # 30%, plus its turn among the 7 training voices
    held = [v.name for v, _ in positive_jobs(rng, "hey zero", split, 200, held_out=True)]
    assert "piper:joe" not in held  # the held-out voices stay the held-out voices
    unshared = replace(split, natural_share=0.0)
    first, again = random.Random(1), random.Random(1)
    assert positive_jobs(first, "hey zero", unshared, 50) == positive_jobs(
        again, "hey zero", replace(unshared, natural_voices=()), 50
    )  # a share of 0 draws nothing: older commands build the same data
