"""ZeroPin's wake-word trainer (``zeropin wakeword train``): laptop only, needs the ``train`` extra.

The daemon never imports this package; it shares only ``device.listening.features`` with it.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: its start-up chatter
