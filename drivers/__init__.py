"""Hardware adapters: one interface per kind, a real backend and a simulated one for each.

This package never imports ``device``: the daemon depends on drivers, not the other way round.
"""
