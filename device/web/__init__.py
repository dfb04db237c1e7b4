"""The companion page: the device's status, turns, notes, privacy ledger, wake-word calibration
and settings, served on the LAN to the owner's phone or laptop.

- ``auth``: the token, the session cookie, LAN-only, the brake on guessing.
- ``pages``: what each page shows, read from the device (the database read-only).
- ``waterfall``: a turn's stages as bars.
- ``settings``: changing a setting with the daemon's own validation, written atomically.
- ``app``: the Flask routes and templates (``templates/``).
- ``serve``: waitress on systemd's socket (or its own), exiting when idle.

It is a separate process from the daemon and never imported by it; on the image, systemd starts
it when someone connects (``systemd/zeropin-web.socket``), so it costs no memory until then.
"""
