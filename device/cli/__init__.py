"""``zeropin``: the command line (main parses, commands act, wakeword forwards to the trainer)."""
