"""What the device answers offline: intents, spoken numbers, timers and the local skills."""
