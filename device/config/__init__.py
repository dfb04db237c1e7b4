"""ZeroPin settings: nested frozen dataclasses loaded from layered TOML, validated once at start.

- ``schema``: the dataclasses (``Config`` and one per section), their defaults, each field's
  rule, and ``Secret``;
- ``checks``: the rules a field may carry (``setting(165, between(80, 450))``);
- ``sources``: reading the layers (files, secrets, environment, flags) into a ``Config``;
- ``render``: ``zeropin config show``, each value with its source and secrets masked;
- ``text``: values written as TOML, for ``config show`` and error messages;
- ``presets``: the cloud providers a ``[providers.NAME]`` table can start from;
- ``calibration``: the layer ``zeropin wakeword calibrate`` writes, and reading its record.
"""
