"""Wake-word tools shared with the trainer: ``zeropin wakeword eval`` and ``record``."""
