"""ZeroPin settings: nested frozen dataclasses loaded from layered TOML, validated once at start.

- ``schema``: the dataclasses (``Config`` and one per section), their defaults and ``Secret``;
- ``checks``: what makes a value valid, one rule per field;
- ``sources``: reading the layers (files, secrets, environment, flags) into a ``Config``;
- ``render``: ``zeropin config show``, each value with its source and secrets masked;
- ``presets``: the cloud providers a ``[providers.NAME]`` table can start from.
"""
