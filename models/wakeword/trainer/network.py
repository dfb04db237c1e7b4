"""The keyword-spotting network: a small DS-CNN (Zhang et al., "Hello Edge", 2017), int8 export.

Input: one second of log-mel features (49 frames x 40 bands), each band less its mean over the
second. A strided 10x4 convolution, four depthwise-separable blocks of 64 channels (the first
strided again), average pooling, and one sigmoid: "the phrase has just been said". About 24k
parameters, 45 KB as int8 TFLite. 48 and 80 channels both held out worse than 64 (the figures of
these choices are in models/README.md, "How the trainer's defaults were chosen").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from device.listening.features import CONTEXT_FRAMES, LOG_MEL, MEL_BANDS

CHANNELS = 64
BLOCKS = 4
BATCH = 128
# The model sees every band less its mean over the window: a steady colouring of the sound (a
# voice's own tone, a small speaker, a mic) drops out, as cepstral mean normalisation does. It
# held out far better than without, and better than each band less its maximum.
BAND_MEANS_REMOVED = True


def build_model() -> Any:
    import tensorflow as tf

    layers = tf.keras.layers

    def norm_relu(x: Any) -> Any:
        # momentum 0.9: the batch statistics settle within a short training run
        return layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x))

    inputs = tf.keras.Input((CONTEXT_FRAMES, MEL_BANDS, 1))
    x = inputs
    if BAND_MEANS_REMOVED:  # each band less its mean over the window (its frames)
        x = layers.Subtract()([x, layers.AveragePooling2D((CONTEXT_FRAMES, 1))(x)])
    x = norm_relu(
        layers.Conv2D(CHANNELS, (10, 4), strides=(2, 4), padding="same", use_bias=False)(x)
    )
    for block in range(BLOCKS):
        stride = (2, 2) if block == 0 else (1, 1)
        x = norm_relu(layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x))
        x = norm_relu(layers.Conv2D(CHANNELS, 1, use_bias=False)(x))
    # pooled: flattened (so the head knows where in the second each feature is) was no better
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return tf.keras.Model(inputs, outputs)


# Other throats and other microphones, drawn afresh every epoch for VOICE_SHARE of the windows
# (mined ones too): formants moved by a factor from 1 - WARP to 1 + WARP (vocal tract length
# perturbation, Jaitly and Hinton, 2013) and a smooth tilt of up to EQ_DB across the bands (a
# different mic, or a voice's own tone). Half the windows, 0.7-1.3, no tilt: the held-out clips
# missed most were said by variants with lower formants than the training variants have.
VOICE_SHARE = 0.5
WARP = 0.3
EQ_DB = 0.0
EQ_POINTS = 5


def reshaped(
    window: np.ndarray, warp: float, eq_db: np.ndarray, centres: np.ndarray | None = None
) -> np.ndarray:
    """``window`` as if said with every formant ``warp`` times higher, through an equaliser
    (``eq_db``: gains at evenly spaced points across the bands, smoothly joined). ``centres``:
    the bands' centre frequencies (the log-mel front end's unless given)."""
    centres = LOG_MEL.band_centres_hz() if centres is None else centres
    # band b now holds what the voice made at centres[b] / warp
    source = np.interp(centres / warp, centres, np.arange(MEL_BANDS))
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, MEL_BANDS - 1)
    frac = (source - low).astype(np.float32)
    out = window[:, low] * (1 - frac) + window[:, high] * frac
    gains = np.interp(np.arange(MEL_BANDS), np.linspace(0, MEL_BANDS - 1, eq_db.size), eq_db)
    return (out + (gains * np.log(10) / 10).astype(np.float32)).astype(np.float32)


def masked(
    batch: np.ndarray, rng: np.random.Generator, centres: np.ndarray | None = None
) -> np.ndarray:
    """Other voices (``reshaped``), then SpecAugment (Park et al., 2019): blank a few frames and a
    few bands of each window, so the model cannot lean on any one moment or pitch of the voices it
    trained on."""
    out = batch.copy()
    for index, window in enumerate(out):
        if rng.random() < VOICE_SHARE:
            eq = rng.uniform(-EQ_DB, EQ_DB, EQ_POINTS)
            window = out[index] = reshaped(window, rng.uniform(1 - WARP, 1 + WARP), eq, centres)
        floor = window.min()
        start, width = rng.integers(0, CONTEXT_FRAMES), rng.integers(0, 7)
        window[start : start + width] = floor
        start, width = rng.integers(0, MEL_BANDS), rng.integers(0, 6)
        window[:, start : start + width] = floor
    return out


def train(
    features: np.ndarray,
    labels: np.ndarray,
    epochs: int,
    seed: int,
    model: Any = None,
    learning_rate: float = 2e-3,
    quiet: bool = False,
    centres: np.ndarray | None = None,
) -> Any:
    """A trained Keras model (``model`` trained further, or a new one). 10% of the windows are
    kept aside to report validation loss as it goes; the rest are masked afresh every epoch
    (``centres``: the front end's band centres, for ``reshaped``)."""
    import tensorflow as tf

    return fit(
        lambda: build_model() if model is None else model,
        features,
        labels,
        Fitting(epochs, seed, learning_rate, quiet, held_share=10),
        loss="binary_crossentropy",
        metrics=[tf.keras.metrics.AUC(name="auc")],
        centres=centres,
    )


@dataclass(frozen=True)
class Fitting:
    """How ``fit`` trains: ``held_share``: one window in this many reports validation loss."""

    epochs: int
    seed: int
    learning_rate: float
    quiet: bool
    held_share: int


def fit(
    build: Callable[[], Any],
    features: np.ndarray,
    labels: np.ndarray,
    how: Fitting,
    loss: str,
    metrics: list[Any],
    centres: np.ndarray | None = None,
) -> Any:
    """The model ``build`` makes (after seeding), trained on ``features`` masked afresh every
    epoch (``masked``) with a cosine learning rate: the wake word's and the command model's."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(how.seed)
    rng = np.random.default_rng(how.seed)
    order = rng.permutation(len(labels))
    held, kept = order[: len(order) // how.held_share], order[len(order) // how.held_share :]

    class Batches(tf.keras.utils.Sequence):
        def __init__(self) -> None:
            super().__init__()
            self.order = kept.copy()

        def __len__(self) -> int:
            return -(-len(self.order) // BATCH)

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            picked = self.order[index * BATCH : (index + 1) * BATCH]
            return masked(features[picked], rng, centres)[..., None], labels[picked]

        def on_epoch_end(self) -> None:
            rng.shuffle(self.order)

    model = build()
    rate, epochs = how.learning_rate, how.epochs
    model.compile(optimizer=tf.keras.optimizers.Adam(rate), loss=loss, metrics=metrics)
    cosine = tf.keras.callbacks.LearningRateScheduler(
        lambda epoch: rate * 0.5 * (1 + np.cos(np.pi * epoch / max(1, epochs))) + 1e-5
    )
    model.fit(
        Batches(),
        epochs=epochs,
        validation_data=(features[held][..., None], labels[held]),
        callbacks=[cosine],
        verbose=0 if how.quiet else 2,
    )
    return model


def cooled(model: Any, temperature: float) -> Any:
    """A copy of ``model`` whose sigmoid sees its logit divided by ``temperature`` (folded into
    the last layer's weights: no extra work on the device). The same ranking of windows, but
    scores saturate later: an int8 sigmoid has 256 steps, and at temperature 1 every logit over
    5.5 is its top step, where hard negatives and clear positives can no longer be told apart."""
    import tensorflow as tf

    copy = tf.keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    kernel, bias = copy.layers[-1].get_weights()
    copy.layers[-1].set_weights([kernel / temperature, bias / temperature])
    return copy


def averaged(models: Sequence[Any]) -> Any:
    """One model whose score is the mean of ``models``' scores (an ensemble): one file, and to the
    device one network that many times the size. A single model is returned as it is."""
    import tensorflow as tf

    if len(models) == 1:
        return models[0]
    inputs = tf.keras.Input((CONTEXT_FRAMES, MEL_BANDS, 1))
    return tf.keras.Model(inputs, tf.keras.layers.Average()([m(inputs) for m in models]))


def calibration_windows(features: np.ndarray, count: int = 500) -> np.ndarray:
    """The windows an int8 export sets its value ranges from: ``count`` of ``features``, the
    same ones every time."""
    return features[np.random.default_rng(0).permutation(len(features))[:count]]


def export_int8(models: Sequence[Any], calibration: np.ndarray, temperature: float = 1.0) -> bytes:
    """Full-integer TFLite of the ``averaged`` models (each ``cooled`` first): int8 weights,
    activations, input and output, their ranges set from the ``calibration`` windows."""
    if temperature != 1.0:
        models = [cooled(model, temperature) for model in models]
    return int8_tflite(averaged(models), calibration)


def int8_tflite(model: Any, calibration: np.ndarray) -> bytes:
    """Full-integer TFLite of one Keras ``model`` (int8 weights, activations, input and output,
    ranges set from the ``calibration`` windows), with the ops tflite-runtime 2.14 runs."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    shape = (1, *model.input_shape[1:])  # a batch of one, with the channel axis if it has one
    converter.representative_dataset = lambda: ([w.reshape(shape)] for w in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())
