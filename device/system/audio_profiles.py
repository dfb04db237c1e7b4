"""Audio profiles: one setting (``[audio] profile``) that makes a Pi's sound hardware work.

A profile knows the three things a Pi voice project otherwise gets wrong by hand: the lines for
``/boot/firmware/config.txt`` that load the sound card's overlay, the ``/etc/asound.conf`` that
turns the card into a shared, any-rate ``default`` (so the daemon, ``arecord`` and ``aplay`` can
all use it at once, at 16 kHz mono; see ``device.system.asound``), and the mixer settings without
which a HAT records silence. This module holds the table of profiles, then the code that applies
one.

Example, run as root at start-up, after the sound card has appeared::

    from device.system.audio_profiles import apply_profile, get_profile

    if apply_profile(get_profile("respeaker-2mic")):
        print("config.txt changed: reboot once so the overlay loads")

Profile facts and where they come from are in ``docs/audio-profiles.md``.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from device.errors import ConfigError
from device.storage.files import write_atomically
from device.system.asound import (
    MIC_PCM,
    SPEAKER_PCM,
    Endpoint,
    Routing,
    render_asound,
    write_asound_conf,
)

log = logging.getLogger(__name__)

BLOCK_BEGIN = "# >>> zeropin audio profile (managed; edit zeropin.toml instead)"
BLOCK_END = "# <<< zeropin audio profile"
CONFIG_TXT = Path("boot/firmware/config.txt")  # relative to the root apply_profile is given
ASOUND_CONF = Path("etc/asound.conf")

# The fix for I2S HATs on a Zero 2 W whose LRCLK pin is left as a plain input (silence, no error):
# https://github.com/respeaker/seeed-voicecard/issues/333 (comment of 2026-05-07: GPIO 19 reads
# "func=INPUT" instead of PCM_FS; `raspi-gpio set 19 a0` fixes it at once; a boot-time setting is
# undone when the I2S driver starts, so it has to run after the card is up). Bookworm replaced
# raspi-gpio with pinctrl; both take the same "set 19 a0".
I2S_FRAME_PIN = 19
I2S_FIX_URL = "https://github.com/respeaker/seeed-voicecard/issues/333"


@dataclass(frozen=True)
class AudioProfile:
    """One sound-hardware setup: boot overlay lines, ALSA configuration, mixer settings."""

    name: str
    description: str
    config_txt: tuple[str, ...]  # lines for /boot/firmware/config.txt (dtoverlay=..., dtparam=...)
    mixer: tuple[tuple[str, ...], ...]  # amixer argument lists, run after the card appears
    _routing: Routing = field(default_factory=Routing, repr=False)
    mic: str = MIC_PCM  # substring of the PyAudio input device name to use ("" = default)
    speaker: str = SPEAKER_PCM  # likewise for output

    def asound_conf(self) -> str:
        """The /etc/asound.conf text, rendered."""
        return render_asound(self.name, self._routing)


# -- the profiles -------------------------------------------------------------------------------


def _hw(card: str) -> str:
    return f"hw:CARD={card},DEV=0"


def _hat_routing(
    card: str, sample_format: str = "S16_LE", mic_channel: int | None = None, softvol: bool = False
) -> Routing:
    """A sound HAT: one card both ways, stereo at 48 kHz (its codec has one frame clock)."""
    endpoint = Endpoint(_hw(card), 48000, 2, sample_format)
    return Routing(
        capture=endpoint, playback=endpoint, ctl_card=card, mic_channel=mic_channel, softvol=softvol
    )


def usb_profile(
    mic_card: str = "Device", speaker_card: str = "Device", mic_channels: int = 1
) -> AudioProfile:
    """A USB microphone and a USB speaker (or any card ALSA already knows), no overlay.

    Card names are ALSA card ids (``arecord -l``: ``card 1: Device [USB PnP Sound Device]``);
    "Device" is what most cheap USB audio adapters call themselves. ``mic_channels`` is what the
    microphone delivers: 1 for nearly all USB microphones, 2 for stereo ones.
    """
    return AudioProfile(
        name="usb",
        description="USB microphone + USB (or already configured) speaker",
        config_txt=(),
        # USB microphones often start with capture turned down or off. "Mic" is the usual name;
        # a card without it only costs a warning.
        mixer=(("-c", mic_card, "sset", "Mic", "80%", "cap"),),
        _routing=Routing(
            capture=Endpoint(_hw(mic_card), 48000, mic_channels, "S16_LE"),
            playback=Endpoint(_hw(speaker_card), 48000, 2, "S16_LE"),
            ctl_card=speaker_card,
        ),
    )


def respeaker_2mic_profile(card: str = "wm8960soundcard") -> AudioProfile:
    """Seeed ReSpeaker 2-Mics Pi HAT v1.x (WM8960 codec) with the kernel's own overlay.

    ``wm8960-soundcard`` ships with Raspberry Pi OS, so nothing is compiled (Seeed's
    ``seeed-2mic-voicecard`` needs an out-of-tree DKMS module that breaks with kernel updates).
    Its card id is "wm8960soundcard". The mixer connects the two microphones to the ADC, which the
    codec leaves disconnected at power-on.
    """
    c = ("-c", card, "sset")
    return AudioProfile(
        name="respeaker-2mic",
        description="ReSpeaker 2-Mics Pi HAT v1 (WM8960), overlay wm8960-soundcard",
        config_txt=(
            "dtparam=i2c_arm=on",
            "dtparam=i2s=on",
            "dtparam=audio=off",  # no HDMI/PWM audio card to push the HAT off card 0
            "dtoverlay=wm8960-soundcard",
        ),
        mixer=(
            # microphone pins -> input PGA -> boost stage -> ADC
            (*c, "Left Boost Mixer LINPUT1", "on"),
            (*c, "Right Boost Mixer RINPUT1", "on"),
            (*c, "Left Input Mixer Boost", "on"),
            (*c, "Right Input Mixer Boost", "on"),
            (*c, "Left Input Boost Mixer LINPUT1", "2"),  # 0..3 = +0/+13/+20/+29 dB
            (*c, "Right Input Boost Mixer RINPUT1", "2"),
            (*c, "Capture", "45", "cap"),  # PGA 45/63 = +16.5 dB, and unmuted
            (*c, "ADC PCM", "195"),  # 195/255 = 0 dB digital
            # DAC -> output mixers -> speaker connector and headphone jack
            (*c, "Left Output Mixer PCM", "on"),
            (*c, "Right Output Mixer PCM", "on"),
            (*c, "Playback", "255"),  # DAC digital 0 dB; loudness is the speaker's job
            (*c, "Speaker", "80%"),
            (*c, "Headphone", "80%"),
        ),
        # 48 kHz, not 44.1: the WM8960 overlay is reported to refuse 44.1 kHz.
        _routing=_hat_routing(card),
    )


def respeaker_2mic_v2_profile(card: str = "seeed2micvoicec") -> AudioProfile:
    """Seeed ReSpeaker 2-Mics Pi HAT v2.0 (TLV320AIC3104 codec, sold since 2024).

    The overlay ``respeaker-2mic-v2_0`` is not in Raspberry Pi OS: build it from Seeed's
    seeed-linux-dtoverlays (see docs/audio-profiles.md). Mixer control names come from the
    kernel's tlv320aic3x driver and are not checked on this board.
    """
    c = ("-c", card, "sset")
    return AudioProfile(
        name="respeaker-2mic-v2",
        description="ReSpeaker 2-Mics Pi HAT v2.0 (TLV320AIC3104), overlay respeaker-2mic-v2_0",
        config_txt=(
            "dtparam=i2c_arm=on",
            "dtparam=i2s=on",
            "dtparam=audio=off",
            "dtoverlay=respeaker-2mic-v2_0",
        ),
        mixer=(
            (*c, "Left PGA Mixer Line1L", "on"),
            (*c, "Right PGA Mixer Line1R", "on"),
            (*c, "PGA", "60%", "cap"),
            (*c, "PCM", "90%"),
            (*c, "HP DAC", "80%"),
        ),
        _routing=_hat_routing(card),
    )


def voicehat_profile(card: str = "sndrpigooglevoi", mic_channel: int = 0) -> AudioProfile:
    """Google AIY Voice HAT v1, or a MAX98357A amplifier + I2S MEMS mic (INMP441, SPH0645).

    The kernel's ``googlevoicehat-soundcard`` driver runs both directions at 48 kHz, 32-bit
    stereo only, and has no mixer: the volume is a softvol control named "ZeroPin Speaker".
    A lone MEMS mic with L/R (SEL) to GND sends on the left slot, ``mic_channel`` 0.
    """
    return AudioProfile(
        name="voicehat",
        description="AIY Voice HAT v1 / MAX98357A + I2S MEMS mic, overlay googlevoicehat-soundcard",
        config_txt=(
            "dtparam=i2s=on",
            "dtparam=audio=off",
            "dtoverlay=googlevoicehat-soundcard",
        ),
        # The softvol control exists only after the first playback, so it is not set here:
        # it starts at full volume (see docs/audio-profiles.md).
        mixer=(),
        _routing=_hat_routing(card, "S32_LE", mic_channel=mic_channel, softvol=True),
    )


def sim_profile() -> AudioProfile:
    """No sound hardware (a VM, a laptop test): the microphone hears silence, the speaker
    discards. Neither is paced by a clock: reads and writes return at once."""
    return AudioProfile(
        name="sim",
        description="no sound card: silence in, nothing out",
        config_txt=(),
        mixer=(),
    )


PROFILES: dict[str, AudioProfile] = {
    profile.name: profile
    for profile in (
        usb_profile(),
        respeaker_2mic_profile(),
        respeaker_2mic_v2_profile(),
        voicehat_profile(),
        sim_profile(),
    )
}


def get_profile(name: str) -> AudioProfile:
    """The profile called ``name``; ConfigError naming ``[audio] profile`` if there is none."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(f'"{known}"' for known in PROFILES)
        raise ConfigError(f'[audio] profile: must be one of {known}, got "{name}"') from None


# -- applying a profile -------------------------------------------------------------------------


def apply_profile(
    profile: AudioProfile,
    root: Path = Path("/"),
    run_mixer: Callable[[Sequence[str]], None] | None = None,
) -> bool:
    """Write ``<root>/etc/asound.conf``, update config.txt's managed block, set the mixer.

    Returns True when ``<root>/boot/firmware/config.txt`` changed: reboot once so the overlay
    loads. A missing config.txt (not a Pi) is skipped. ``run_mixer`` gets each of the profile's
    amixer argument lists; by default ``amixer`` runs them, and only on the live system
    (``root`` "/"), as does the I2S frame-pin check. A failing mixer setting is logged, not raised.
    """
    write_asound_conf(root / ASOUND_CONF, profile.asound_conf())
    changed = _update_config_txt(root / CONFIG_TXT, profile)
    live = root.resolve() == Path("/")
    runner = run_mixer if run_mixer is not None else (_amixer_runner() if live else None)
    if runner is not None:
        for args in profile.mixer:
            try:
                runner(args)
            except (OSError, subprocess.SubprocessError) as exc:
                log.warning("mixer setting `amixer %s` failed: %s", " ".join(args), exc)
    if live and "dtparam=i2s=on" in profile.config_txt and not changed:
        fix_i2s_frame_pin()
    return changed


def _update_config_txt(path: Path, profile: AudioProfile) -> bool:
    try:
        original = path.read_bytes()
    except FileNotFoundError:
        log.info("no %s (not a Raspberry Pi?): boot overlay left alone", path)
        return False
    text = original.decode("utf-8", errors="surrogateescape")
    outside = _without_block(text)
    _warn_about_foreign_audio_lines(outside, profile)
    updated = outside
    if profile.config_txt:
        if updated and not updated.endswith("\n"):
            updated += "\n"
        # "[all]" ends any [pi4]/[cm4] filter the file left open, so the lines apply to every
        # board; later lines win, so dtparam=audio=off here beats the stock dtparam=audio=on.
        updated += "\n".join((BLOCK_BEGIN, "[all]", *profile.config_txt, BLOCK_END)) + "\n"
    new = updated.encode("utf-8", errors="surrogateescape")
    if new == original:
        return False
    write_atomically(path, new, mode=path.stat().st_mode & 0o777)
    log.warning("%s: audio profile %r written; reboot once to load it", path, profile.name)
    return True


def _without_block(text: str) -> str:
    """``text`` with every managed block (markers included) taken out, the rest as it was.

    A begin marker with no end after it is somebody's cut-short edit: it and the lines after it
    are kept, since dropping them could eat their settings.
    """
    kept: list[str] = []
    block: list[str] | None = None  # lines since an unmatched begin marker
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped == BLOCK_BEGIN:
            if block is not None:
                kept += block
            block = [line]
        elif block is not None:
            block.append(line)
            if stripped == BLOCK_END:
                block = None
        else:
            kept.append(line)
    if block is not None:
        log.warning("config.txt: %r has no end marker; keeping what follows it", BLOCK_BEGIN)
        kept += block
    return "".join(kept)


def _warn_about_foreign_audio_lines(outside: str, profile: AudioProfile) -> None:
    """Warn once per call about another profile's overlay set outside the managed block: two
    sound overlays on one I2S bus make neither work."""
    ours = set(profile.config_txt)
    theirs = {
        line
        for other in PROFILES.values()
        for line in other.config_txt
        if line.startswith("dtoverlay=") and line not in ours
    }
    extra = ("dtoverlay=seeed-2mic-voicecard", "dtoverlay=max98357a", "dtoverlay=i2s-mmap")
    theirs.update(line for line in extra if line not in ours)
    found = [line.strip() for line in outside.splitlines() if line.strip() in theirs]
    if found:
        log.warning(
            "config.txt sets %s outside ZeroPin's block; comment it out if audio stays silent",
            ", ".join(found),
        )


def _amixer_runner() -> Callable[[Sequence[str]], None] | None:
    amixer = shutil.which("amixer")
    if amixer is None:
        _warn_no_amixer()
        return None

    def run(args: Sequence[str]) -> None:
        result = subprocess.run(
            [amixer, "-q", *args], capture_output=True, text=True, timeout=10, check=False
        )
        if result.returncode != 0:
            log.warning(
                "mixer setting `amixer %s` failed: %s",
                " ".join(args),
                result.stderr.strip() or f"exit status {result.returncode}",
            )

    return run


@functools.cache  # so the warning is logged once, however often a profile is applied
def _warn_no_amixer() -> None:
    log.warning("amixer not found (apt install alsa-utils): mixer settings not applied")


def fix_i2s_frame_pin(run: Callable[[Sequence[str]], str] | None = None) -> bool:
    """Put GPIO 19 back to PCM_FS (ALT0) if something left it an input; True if it did.

    Seen on a Zero 2 W with a ReSpeaker 2-mic HAT (see I2S_FIX_URL): the card is there, streams
    open, and everything recorded is silence. ``run`` runs a command and returns its output; by
    default ``pinctrl`` (Bookworm) or ``raspi-gpio`` (older), skipped if neither is installed.
    """
    if run is None:
        tool = shutil.which("pinctrl") or shutil.which("raspi-gpio")
        if tool is None:
            return False
        run = _command_runner(tool)
    pin = str(I2S_FRAME_PIN)
    try:
        state = run(["get", pin])
        if "PCM_FS" in state:
            return False
        run(["set", pin, "a0"])
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not check GPIO %s (I2S frame clock): %s", pin, exc)
        return False
    log.warning(
        "GPIO %s was not the I2S frame clock (%s); set it to PCM_FS, see %s",
        pin,
        state.strip() or "no answer",
        I2S_FIX_URL,
    )
    return True


def _command_runner(tool: str) -> Callable[[Sequence[str]], str]:
    def run(args: Sequence[str]) -> str:
        return subprocess.run(
            [tool, *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout

    return run
