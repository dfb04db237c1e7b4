"""The ``/etc/asound.conf`` an audio profile writes: one set of ALSA names over any sound card.

Every profile defines the same ALSA names, so the daemon's ``[audio] mic`` / ``speaker`` can stay
``zeropin_mic`` / ``zeropin_speaker`` whatever the hardware; the card is shared (the daemon,
``arecord`` and ``aplay`` can all use it at once) and takes any rate (16 kHz mono included)::

    zeropin_mic      plug (any rate/channels/format)  -> zeropin_capture_share (dsnoop) -> card
    zeropin_speaker  plug [-> zeropin_volume softvol] -> zeropin_playback_share (dmix)  -> card
    default          asym of the two

Example::

    from device.system.asound import Endpoint, Routing, render_asound

    card = Endpoint("hw:CARD=Device,DEV=0", rate=48000, channels=2, sample_format="S16_LE")
    print(render_asound("usb", Routing(capture=card, playback=card, ctl_card="Device")))
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from device.storage.files import write_atomically

log = logging.getLogger(__name__)

ASOUND_MARK = "# Written by ZeroPin"  # first line of every asound.conf we write: ours to replace
BACKUP_SUFFIX = ".zeropin-backup"

MIC_PCM = "zeropin_mic"
SPEAKER_PCM = "zeropin_speaker"
CAPTURE_SHARE_PCM = "zeropin_capture_share"
PLAYBACK_SHARE_PCM = "zeropin_playback_share"
VOLUME_PCM = "zeropin_volume"
VOLUME_CONTROL = "ZeroPin Speaker"  # the softvol control amixer/alsamixer show

# dsnoop/dmix find each other's shared memory by these keys; fixed, so a second process (arecord
# run by root while the daemon runs as its own user) joins the same stream instead of failing
# with "device busy". ipc_perm 0666 lets both users in.
_CAPTURE_IPC_KEY = 7316001
_PLAYBACK_IPC_KEY = 7316002


@dataclass(frozen=True)
class Endpoint:
    """The hardware end of one direction, as the shared dsnoop/dmix plugin opens it."""

    pcm: str  # an ALSA hw PCM, e.g. "hw:CARD=Device,DEV=0"
    rate: int  # Hertz the card runs at; capture and playback of one I2S card must agree
    channels: int
    sample_format: str  # ALSA format name, e.g. "S16_LE"


@dataclass(frozen=True)
class Routing:
    """How asound.conf connects the zeropin_* names to the card (or to nothing, for "sim")."""

    capture: Endpoint | None = None  # None: read silence from /dev/zero (sim)
    playback: Endpoint | None = None  # None: discard (sim)
    ctl_card: str = ""  # card `amixer`/`alsamixer` use with no -c; "" = leave ALSA's default
    mic_channel: int | None = None  # take only this capture channel; None = average them
    softvol: bool = False  # a software volume stage, for amplifiers without a mixer


# Prefer the Speex resampler (package libasound2-plugins) and fall back to ALSA's built-in linear
# one, so the file works either way; linear aliases audibly, Speex does not.
_RATE_CONVERTER = 'rate_converter [ "speexrate" "linear" ]'


def render_asound(name: str, routing: Routing) -> str:
    """The asound.conf text for the profile called ``name``."""
    parts = [
        f'{ASOUND_MARK} (audio profile "{name}"). It is replaced on every start:',
        "# change [audio] profile in zeropin.toml instead of editing it.",
        "",
    ]
    parts += _capture_pcms(routing)
    parts += _playback_pcms(routing)
    parts += [
        "pcm.!default {",
        "    type asym",
        f'    capture.pcm "{MIC_PCM}"',
        f'    playback.pcm "{SPEAKER_PCM}"',
        "}",
    ]
    if routing.ctl_card:
        parts += ["", "ctl.!default {", "    type hw", f'    card "{routing.ctl_card}"', "}"]
    return "\n".join(parts) + "\n"


def _shared_pcm(name: str, plugin: str, ipc_key: int, endpoint: Endpoint) -> list[str]:
    """A dsnoop or dmix PCM: the card ``endpoint`` opened once and shared by every process."""
    return [
        f"pcm.{name} {{",
        f"    type {plugin}",
        f"    ipc_key {ipc_key}",
        "    ipc_key_add_uid false",
        "    ipc_perm 0666",
        "    slave {",
        f'        pcm "{endpoint.pcm}"',
        f"        rate {endpoint.rate}",
        f"        channels {endpoint.channels}",
        f"        format {endpoint.sample_format}",
        "        period_size 1024",
        "        buffer_size 8192",
        "    }",
        "}",
        "",
    ]


def _capture_pcms(routing: Routing) -> list[str]:
    if routing.capture is None:
        # The file plugin needs an output file even for capture; /dev/zero never ends.
        return [
            f"pcm.{MIC_PCM} {{",
            "    type file",
            '    slave.pcm "null"',
            '    file "/dev/null"',
            '    infile "/dev/zero"',
            '    format "raw"',
            '    hint.description "ZeroPin microphone (silence, no sound card)"',
            "}",
            "",
        ]
    lines = [
        *_shared_pcm(CAPTURE_SHARE_PCM, "dsnoop", _CAPTURE_IPC_KEY, routing.capture),
        f"pcm.{MIC_PCM} {{",
        "    type plug",
        f'    slave.pcm "{CAPTURE_SHARE_PCM}"',
        f"    {_RATE_CONVERTER}",
    ]
    if routing.mic_channel is not None:
        # A single I2S MEMS mic fills one slot and leaves the other at zero: averaging the two
        # (what plug does by default) would throw away 6 dB.
        lines.append(f"    ttable.0.{routing.mic_channel} 1")
    lines += ['    hint.description "ZeroPin microphone"', "}", ""]
    return lines


def _playback_pcms(routing: Routing) -> list[str]:
    if routing.playback is None:
        return [
            f"pcm.{SPEAKER_PCM} {{",
            "    type null",
            '    hint.description "ZeroPin speaker (discarded, no sound card)"',
            "}",
            "",
        ]
    lines = _shared_pcm(PLAYBACK_SHARE_PCM, "dmix", _PLAYBACK_IPC_KEY, routing.playback)
    target = PLAYBACK_SHARE_PCM
    if routing.softvol:
        # The control appears on the card the first time this PCM is opened.
        lines += [
            f"pcm.{VOLUME_PCM} {{",
            "    type softvol",
            f'    slave.pcm "{PLAYBACK_SHARE_PCM}"',
            "    control {",
            f'        name "{VOLUME_CONTROL}"',
            f'        card "{routing.ctl_card}"',
            "    }",
            "    min_dB -40.0",
            "    max_dB 0.0",
            "}",
            "",
        ]
        target = VOLUME_PCM
    lines += [
        f"pcm.{SPEAKER_PCM} {{",
        "    type plug",
        f'    slave.pcm "{target}"',
        f"    {_RATE_CONVERTER}",
        '    hint.description "ZeroPin speaker"',
        "}",
        "",
    ]
    return lines


def write_asound_conf(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (atomically, 0644) unless it is there already.

    A file ZeroPin did not write (no ASOUND_MARK) is someone's own ALSA setup: the first one
    replaced is kept beside it with BACKUP_SUFFIX.
    """
    try:
        current: str | None = path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        current = None
    if current == text:
        return
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if current is not None and not current.startswith(ASOUND_MARK) and not backup.exists():
        # Someone's own ALSA setup: keep the first one we replace, never a later one, so
        # switching profiles back and forth cannot overwrite it with our own file.
        shutil.copy2(path, backup)
        log.warning("replacing %s; the previous file is kept as %s", path, backup)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text.encode("utf-8"), mode=0o644)
