"""The command network: the wake word's DS-CNN (``wakeword_trainer.network``) with a softmax head.

Input: a 3 s window of log-mel rows (``device.listening.command_model.WINDOW_FRAMES`` x 40),
each band less its mean over the window. A strided 10x4 convolution, four depthwise-separable
blocks of CHANNELS channels (the first and third strided in time again), average pooling, and one
probability per label. Trained by the wake-word trainer's ``fit`` (its SpecAugment and formant
warp); exported full-integer int8, as the wake word is, for tflite-runtime 2.14.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from wakeword_trainer.network import Fitting, fit, int8_tflite

from device.listening.command_model import WINDOW_FRAMES, run_classifier
from device.listening.features import MEL_BANDS

# 96 channels: on validation (seed 1000's windows), 80% of the commands heard at 1% of the unknown
# accepted, against 72% with 64 channels and the features averaged over the bands only (so the
# head knows when each was heard) instead of over the whole window (models/README.md).
CHANNELS = 96
BLOCKS = 4


def build_model(classes: int) -> Any:
    import tensorflow as tf

    layers = tf.keras.layers

    def norm_relu(x: Any) -> Any:
        return layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x))

    inputs = tf.keras.Input((WINDOW_FRAMES, MEL_BANDS, 1))
    x = layers.Subtract()([inputs, layers.AveragePooling2D((WINDOW_FRAMES, 1))(inputs)])
    x = norm_relu(
        layers.Conv2D(CHANNELS, (10, 4), strides=(2, 4), padding="same", use_bias=False)(x)
    )
    for block in range(BLOCKS):
        stride = {0: (2, 2), 2: (2, 1)}.get(block, (1, 1))
        x = norm_relu(layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x))
        x = norm_relu(layers.Conv2D(CHANNELS, 1, use_bias=False)(x))
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(classes, activation="softmax")(x)
    return tf.keras.Model(inputs, outputs)


def train(
    features: np.ndarray,
    labels: np.ndarray,
    classes: int,
    epochs: int,
    seed: int,
    learning_rate: float = 3e-3,
    quiet: bool = False,
) -> Any:
    """A trained Keras model, by the wake-word trainer's ``fit``. 5% of the windows are kept
    aside to report validation loss as it goes; the rest are masked afresh every epoch."""
    return fit(
        lambda: build_model(classes),
        features,
        labels,
        Fitting(epochs, seed, learning_rate, quiet, held_share=20),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def export_int8(model: Any, calibration: np.ndarray) -> bytes:
    """Full-integer TFLite, as the wake word's: int8 weights, activations, input and output."""
    return int8_tflite(model, calibration)


def int8_probabilities(content: bytes, windows: np.ndarray) -> np.ndarray:
    """(n, classes) probabilities of the int8 model ``content`` for ``windows`` (or any inputs),
    as the device computes them (``command_model.run_classifier``)."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=content, num_threads=1)
    interpreter.allocate_tensors()
    given, taken = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    return np.array(
        [run_classifier(interpreter, given, taken, window) for window in windows],
        dtype=np.float32,
    )
