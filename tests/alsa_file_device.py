"""A sound card made of files, so PyAudio runs for real in tests on a machine with no sound card.

``alsa_file_device(folder)`` writes ``folder/.asoundrc`` with two ALSA ``file`` plugin pcms over
the ``null`` plugin and points ``HOME`` at ``folder`` while it is active. PortAudio lists every
pcm defined in the user's asoundrc by its name, so a fresh ``pyaudio.PyAudio()`` sees:

- ``zeropin_in``: capture reads the raw s16le file ``in.raw`` (set with ``feed()``); ALSA wants
  ``file "/dev/null"`` beside ``infile`` and returns garbage past the end, so ``feed()`` pads
  with silence and tests read a known length;
- ``zeropin_out``: playback writes raw s16le to ``out.raw`` (read with ``played()``).

Both run faster than real time. ALSA re-reads its configuration whenever the set of files
changes, so each PyAudio() made inside the block sees this device, and later ones do not.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

INPUT_NAME = "zeropin_in"
OUTPUT_NAME = "zeropin_out"
RATE = 16000  # Hertz: what tests write; the plugins accept any rate the client asks for

_ASOUNDRC = """\
pcm.{input_name} {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{infile}"
    format "raw"
}}
pcm.{output_name} {{
    type file
    slave.pcm "null"
    file "{outfile}"
    format "raw"
}}
"""

# Each of these could make ALSA read another configuration than ours.
_ENVIRONMENT = ("HOME", "XDG_CONFIG_HOME", "ALSA_CONFIG_PATH")


@dataclass
class AlsaFileDevice:
    """Paths and helpers of an active file-backed ALSA device."""

    folder: Path
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME

    @property
    def infile(self) -> Path:
        return self.folder / "in.raw"

    @property
    def outfile(self) -> Path:
        return self.folder / "out.raw"

    def feed(self, pcm: bytes, pad_seconds: float = 2.0, rate: int = RATE) -> None:
        """Make capture return ``pcm`` (s16le mono), then ``pad_seconds`` of silence."""
        self.infile.write_bytes(pcm + bytes(2 * int(pad_seconds * rate)))

    def played(self) -> bytes:
        """Everything written to the playback pcm since the last stream was opened."""
        return self.outfile.read_bytes() if self.outfile.exists() else b""


@contextmanager
def alsa_file_device(folder: Path) -> Iterator[AlsaFileDevice]:
    """Define the file-backed device in ``folder`` and point ALSA at it until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    device = AlsaFileDevice(folder)
    device.feed(b"")
    (folder / ".asoundrc").write_text(
        _ASOUNDRC.format(
            input_name=INPUT_NAME,
            output_name=OUTPUT_NAME,
            infile=device.infile,
            outfile=device.outfile,
        )
    )
    saved = {name: os.environ.get(name) for name in _ENVIRONMENT}
    os.environ["HOME"] = str(folder)
    os.environ["XDG_CONFIG_HOME"] = str(folder / ".config")
    os.environ.pop("ALSA_CONFIG_PATH", None)
    try:
        yield device
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
