"""ZeroPin's command-model trainer (``zeropin commands train``): laptop only, the train extra.

The daemon never imports this package; it shares ``device.listening.command_model`` (the window
the model sees) and ``device.listening.features`` with it, and reuses the wake-word trainer's
augmentation and speech helpers.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: its start-up chatter
