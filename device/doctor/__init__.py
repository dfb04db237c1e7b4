"""``zeropin doctor``: one OK/WARN/FAIL line per part of the device (run picks the parts, checks
checks them)."""
