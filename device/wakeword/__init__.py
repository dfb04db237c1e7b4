"""Wake-word tools: ``zeropin wakeword eval`` (also on real people's recordings), ``record`` and
``calibrate``; eval and record are shared with the trainer."""
