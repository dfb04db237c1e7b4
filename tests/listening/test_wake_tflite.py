"""The TFLite wake-word engine: streaming features, chunk-size invariance, self-wake, bad files.

These use the shipped "hey zero" model (models/wakeword/) on espeak-ng speech.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from device.app import build_listener, build_wake
from device.config.sources import load_config
from device.errors import ConfigError, ModelError
from device.events import ListenMode, WakeWordDetected
from device.listening.features import (
    CONTEXT_FRAMES,
    HOP_SAMPLES,
    LOG_MEL,
    MEL_BANDS,
    MICRO,
    frame_count,
    log_mel,
)
from device.listening.tflite_wake import STEP_FRAMES, ModelCard, StreamingScorer, TFLiteWakeDetector
from device.speaking.tts import EspeakSynthesizer
from device.system.manifest import load_manifest, shipped_file
from device.system.paths import resolved_wake_model

CFG = load_config(paths=[], env={})
MODEL = resolved_wake_model(CFG)


def speech(text: str, voice: str = "en-us+f2", rate: int = 140) -> bytes:
    return EspeakSynthesizer(voice, rate, 50, volume_percent=100).synthesize(text)


def quiet(seconds: float, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 20, int(16000 * seconds)).astype("<i2").tobytes()


def scores_in_chunks(audio: bytes, chunk_bytes: int) -> list[float]:
    scorer = StreamingScorer(MODEL)
    samples = np.frombuffer(audio, dtype="<i2")
    chunk = chunk_bytes // 2
    out: list[float] = []
    for start in range(0, samples.size, chunk):
        out += scorer.scores(samples[start : start + chunk])
    return out


def test_default_engine_is_the_shipped_tflite_model():
    assert CFG.wake.engine == "tflite"
    detector = build_wake(CFG)
    assert isinstance(detector, TFLiteWakeDetector)
    assert detector.phrase == "hey zero"
    assert detector.threshold == ModelCard.load(MODEL).threshold
    assert shipped_file(load_manifest()["wakeword-hey-zero"]) == MODEL


def test_log_mel_frames_and_bands():
    assert frame_count(479) == 0 and frame_count(480) == 1 and frame_count(800) == 2
    rows = log_mel(np.zeros(16000, dtype=np.int16))
    assert rows.shape == (frame_count(16000), MEL_BANDS) == (49, 40)
    tone = (np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000) * 8000).astype(np.int16)
    loudest = log_mel(tone).mean(axis=0).argmax()
    assert 10 < loudest < 25  # 1 kHz sits in the lower-middle bands of 60..7600 Hz


def test_streaming_features_match_the_trainers():
    """The ring buffer holds what log_mel computes on the whole clip: the model sees on the device
    what it was trained on."""
    audio = np.frombuffer(quiet(0.3) + speech("hey zero") + quiet(0.5), dtype="<i2")
    scorer = StreamingScorer(MODEL)
    steps = list(scorer.scores(audio))
    assert steps
    whole = log_mel(audio)
    np.testing.assert_allclose(scorer.features, whole[-CONTEXT_FRAMES:], atol=1e-4)
    # a score every STEP_FRAMES rows from the stream's start, once a whole window is in
    positions = range(STEP_FRAMES, len(whole) + 1, STEP_FRAMES)
    assert len(steps) == sum(1 for rows in positions if rows >= CONTEXT_FRAMES)


@pytest.mark.parametrize("front", [LOG_MEL, MICRO], ids=lambda f: f.kind)
def test_each_front_end_streams_the_rows_it_gives_a_whole_clip(front):
    """The trainer computes a clip's rows at once, the device chunk by chunk (any size)."""
    audio = np.frombuffer(quiet(0.3) + speech("hey zero") + quiet(0.5), dtype="<i2")
    whole = front.rows(audio)
    assert whole.shape == ((audio.size - front.first_row_samples) // HOP_SAMPLES + 1, MEL_BANDS)
    assert front.rows(audio[: front.span()]).shape == (CONTEXT_FRAMES, MEL_BANDS)
    stream = front.stream()
    chunks = [stream.push(c) for c in np.array_split(audio, np.arange(0, audio.size, 333))]
    np.testing.assert_array_equal(np.concatenate(chunks), whole)


def test_the_micro_front_end_takes_out_the_level():
    """PCAN: the same speech 20 dB quieter gives nearly the same rows once the front end has
    settled; plain log-mel rows shift by the level."""
    audio = np.frombuffer(quiet(1.0) + speech("hey zero"), dtype="<i2").astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 30, audio.size)
    loud, soft = ((audio + noise).astype(np.int16), (audio / 10 + noise / 10).astype(np.int16))

    def gap(front):
        a, b = front.rows(loud)[-CONTEXT_FRAMES:], front.rows(soft)[-CONTEXT_FRAMES:]
        return np.abs(a - b).mean() / (a.max() - a.min())

    assert gap(MICRO) < gap(LOG_MEL) / 2


@pytest.mark.parametrize("chunk_bytes", [2, 320, 960, 3200, 4802, 64000])
def test_any_chunk_size_gives_the_same_scores(chunk_bytes):
    audio = quiet(1.2) + speech("the meeting is at noon. hey zero, what time is it") + quiet(1)
    reference = scores_in_chunks(audio, 640)
    assert len(reference) > 20
    assert max(reference) > ModelCard.load(MODEL).threshold  # the phrase is in there
    assert scores_in_chunks(audio, chunk_bytes) == reference


def _wake_events(listener, audio: bytes) -> list[WakeWordDetected]:
    return [e for e in listener.process(audio) if isinstance(e, WakeWordDetected)]


def test_fires_on_the_phrase_in_a_stream():
    listener = build_listener(CFG)
    assert _wake_events(listener, quiet(2) + speech("hey zero") + quiet(1)) != []


def test_no_self_wake_while_the_device_speaks():
    """While SPEAKING the listener is OFF: the detector hears nothing of the device saying "hey
    zero", so it fires neither then nor after it re-arms."""
    listener = build_listener(CFG)
    listener.process(quiet(2))  # idle for a while: the ring buffer is full
    listener.set_mode(ListenMode.OFF)  # the device answers ...
    said_by_device = speech("you said hey zero", "en-us", 165)
    assert _wake_events(listener, said_by_device) == []
    listener.set_mode(ListenMode.WAKE)  # ... and is done
    assert _wake_events(listener, quiet(2)) == []
    # the control: the same words heard while idle do wake it
    fresh = build_listener(CFG)
    assert _wake_events(fresh, quiet(2) + said_by_device + quiet(1)) != []


def _fires_at(detector, audio: bytes, frame: int = 960) -> int | None:
    """Byte offset of the frame in which ``detector`` fires, or None."""
    for offset in range(0, len(audio), frame):
        if detector.process(audio[offset : offset + frame]):
            return offset
    return None


def test_reset_forgets_what_was_heard():
    """Audio up to just before the detector would fire, then a reset (the listener re-arming it):
    what follows does not complete the firing. Without the reset it does."""
    audio = quiet(2) + speech("hey zero") + quiet(1)
    fired_at = _fires_at(build_wake(CFG), audio)
    assert fired_at is not None
    before, after = audio[:fired_at], audio[fired_at:]
    control = build_wake(CFG)
    assert _fires_at(control, before) is None
    assert _fires_at(control, after) is not None
    detector = build_wake(CFG)
    assert _fires_at(detector, before) is None
    detector.reset()
    assert _fires_at(detector, after) is None


# -- bad model files ---------------------------------------------------------------------------


def copy_model(tmp_path: Path, name: str = "m") -> Path:
    target = tmp_path / f"{name}.tflite"
    shutil.copy(MODEL, target)
    shutil.copy(MODEL.with_suffix(".json"), target.with_suffix(".json"))
    return target


def test_missing_model_says_how_to_make_one(tmp_path):
    with pytest.raises(ModelError, match=r"nope.tflite not found; train one with `zeropin wakew"):
        TFLiteWakeDetector(tmp_path / "nope.tflite")


def test_missing_card_is_named(tmp_path):
    model = copy_model(tmp_path)
    model.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match=r"m\.json: the model card of m\.tflite is missing"):
        TFLiteWakeDetector(model)


def test_not_a_tflite_file(tmp_path):
    model = copy_model(tmp_path)
    model.write_bytes(b"<html>404 Not Found</html>" * 20)
    with pytest.raises(ModelError, match="is not a TFLite model"):
        TFLiteWakeDetector(model)


def test_truncated_model(tmp_path):
    model = copy_model(tmp_path)
    model.write_bytes(MODEL.read_bytes()[:2000])  # crashes the runtime if loaded in-process
    refused = r"m\.tflite(: the TFLite runtime cannot run it: | crashed the TFLite runtime)"
    with pytest.raises(ModelError, match=refused):
        TFLiteWakeDetector(model)


def test_model_that_crashes_the_runtime_is_refused_not_fatal(tmp_path):
    """Loaded in this process, this file would take the daemon down with a segfault."""
    model = copy_model(tmp_path)
    content = bytearray(MODEL.read_bytes())
    content[:4] = (0x7FFFFFF0).to_bytes(4, "little")  # the root table: 2 GB past the end
    model.write_bytes(bytes(content))
    with pytest.raises(ModelError, match=r"crashed the TFLite runtime \(signal \d+\): the file is"):
        TFLiteWakeDetector(model)


def test_model_for_other_features_is_refused(tmp_path):
    model = copy_model(tmp_path)
    card = json.loads(model.with_suffix(".json").read_text())
    card["features"] = {**LOG_MEL.card, "mel_bands": 64}
    model.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"trained on other features .*mel_bands differ.*retrain"):
        TFLiteWakeDetector(model)


def test_model_with_the_wrong_input_shape(tmp_path):
    tf = pytest.importorskip("tensorflow")  # the train extra, installed by ./dev
    inputs = tf.keras.Input((98, 40, 1))
    keras_model = tf.keras.Model(
        inputs, tf.keras.layers.Dense(1)(tf.keras.layers.Flatten()(inputs))
    )
    model = copy_model(tmp_path)
    model.write_bytes(tf.lite.TFLiteConverter.from_keras_model(keras_model).convert())
    with pytest.raises(ModelError, match=r"input shape \(1, 98, 40, 1\) does not match 49 frames"):
        TFLiteWakeDetector(model)


def test_shipped_model_changed_on_disk_is_refused(tmp_path):
    spec = load_manifest()["wakeword-hey-zero"]
    root = tmp_path / "models"
    (root / "wakeword").mkdir(parents=True)
    damaged = MODEL.read_bytes()
    (root / spec.path).write_bytes(damaged[:-1] + bytes([damaged[-1] ^ 1]))
    with pytest.raises(ModelError, match=r"does not match its sha256 .*git checkout -- models/"):
        shipped_file(spec, root)


def test_config_phrase_must_match_the_model():
    cfg = replace(CFG, wake=replace(CFG.wake, phrase="hey jarvis"))
    with pytest.raises(
        ConfigError, match=r"\[wake\] phrase: 'hey jarvis', but the model .* 'hey zero'"
    ):
        build_wake(cfg)


@pytest.mark.parametrize(
    ("threshold", "hint"),
    [(10.0, "not 10$"), (1e-40, r"not 1e-40 \(a pocketsphinx threshold\? set engine too")],
)
def test_threshold_out_of_range_is_a_config_error(threshold, hint):
    cfg = replace(CFG, wake=replace(CFG.wake, threshold=threshold))
    with pytest.raises(
        ConfigError, match=r"\[wake\] threshold: a tflite model scores 0\.\.1; .*" + hint
    ):
        build_wake(cfg)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("trigger_level", 0, "trigger_level must be a whole number of at least 1 (got 0)"),
        ("smoothing", 0, "smoothing must be a whole number of at least 1 (got 0)"),
        ("smoothing", 2.5, "smoothing must be a whole number of at least 1 (got 2.5)"),
        ("threshold", 1.5, "threshold must be a number between 0 and 1 (got 1.5)"),
        ("threshold", "high", "threshold must be a number between 0 and 1 (got 'high')"),
        ("phrase", None, "phrase must be a non-empty string (missing)"),
        (
            "phrase_reach_seconds",
            -1.5,
            "phrase_reach_seconds must be a number of seconds above 0 (got -1.5)",
        ),
    ],
)
def test_bad_card_values_name_the_card_and_key(tmp_path, key, value, message):
    model = copy_model(tmp_path)
    card = json.loads(model.with_suffix(".json").read_text())
    if value is None:
        del card[key]
    else:
        card[key] = value
    model.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError) as error:
        TFLiteWakeDetector(model)
    assert str(error.value) == f"{model.with_suffix('.json')}: {message}"


def test_a_card_without_a_phrase_reach_lets_the_phrase_begin_anywhere_in_the_window(tmp_path):
    model = copy_model(tmp_path)
    card = json.loads(model.with_suffix(".json").read_text())
    for reach, expected in ((None, None), (0.5, 0.5), (9.0, 9.0)):
        card["phrase_reach_seconds"] = reach
        model.with_suffix(".json").write_text(json.dumps(card))
        assert ModelCard.load(model).phrase_reach_seconds == expected
        detector = TFLiteWakeDetector(model)
        steps = 0.1 * (detector.trigger.smoothing + detector.trigger.level - 2)
        window = detector.scorer.context_seconds  # a reach past it is held to it
        wanted = min(expected or window, window) + steps
        assert detector.phrase_seconds == pytest.approx(wanted)


def test_configured_threshold_trigger_level_and_smoothing_are_used():
    cfg = replace(CFG, wake=replace(CFG.wake, threshold=0.42, trigger_level=2, smoothing=4))
    detector = build_wake(cfg)
    trigger = detector.trigger
    assert (trigger.threshold, trigger.level, trigger.smoothing) == (0.42, 2, 4)
    # the phrase may begin as far back as the oldest score in a firing saw: 1 s, then 3 + 1 steps
    assert detector.phrase_seconds == pytest.approx(0.99 + 0.4)


def test_a_card_from_before_smoothing_scores_each_score_on_its_own(tmp_path):
    model = copy_model(tmp_path)
    card = json.loads(model.with_suffix(".json").read_text())
    del card["smoothing"]
    model.with_suffix(".json").write_text(json.dumps(card))
    assert TFLiteWakeDetector(model).trigger.smoothing == 1


def test_pocketsphinx_asr_adapts_once_to_speech_heard_idle():
    """With this detector nothing adapts pocketsphinx's cepstral mean while idle (the keyphrase
    spotter used to): the listener does it once, from the first 5 s of speech it hears."""
    listener = build_listener(CFG)
    assert listener.recognizer.name == "pocketsphinx"  # no Vosk model on these machines
    start = listener.recognizer.cmn
    listener.process(quiet(6))
    assert listener.recognizer.cmn == start  # noise alone: nothing to adapt to
    talk = "testing the microphone, one, two, three, four, five. the meeting moved to thursday"
    listener.process(speech(talk) + speech("could you pass me the salt please"))
    adapted = listener.recognizer.cmn
    assert adapted != start
    listener.process(speech("and this sentence changes nothing"))
    assert listener.recognizer.cmn == adapted
