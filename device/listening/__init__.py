"""The listening half of the voice loop: 30 ms frames, wake word, endpointing, recognition."""
