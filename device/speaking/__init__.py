"""The speaking half of the voice loop: sentences, speech synthesis, earcons, playback, volume."""
