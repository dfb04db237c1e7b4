"""The device as a Linux system: paths, the model manifest, first boot, audio profiles, systemd
notification and status."""
