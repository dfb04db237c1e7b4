"""The ZeroPin daemon: configuration, the voice loop, skills, storage and the ``zeropin`` CLI."""

__version__ = "0.1.0"
