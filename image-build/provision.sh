#!/usr/bin/env bash
# Provision a Raspberry Pi OS (or Debian arm64) system as a ZeroPin: the one source of truth used
# by both build.sh (inside an image, in an arm64 chroot) and install.sh (on a running Pi).
#
#   provision.sh --wheel zeropin-X-py3-none-any.whl --models DIR --units DIR
#                [--vosk-zip FILE | --no-vosk-model] [--no-apt] [--pip-find-links DIR]
#
# Installs the Vosk small English model (vosk-small-en-us in models/manifest.toml, a 41 MB
# download checked against the sha256 pinned there): downloaded, or from --vosk-zip, a copy
# already downloaded. --no-vosk-model leaves it out, for a build without network: speech
# recognition then falls back to pocketsphinx until `zeropin models fetch vosk-small-en-us`.
#
# Runs as root in the target system. Idempotent: running it again upgrades in place.
set -euo pipefail

PREFIX=/opt/zeropin
VENV=$PREFIX/venv
USER_NAME=zeropin
STATE=/var/lib/zeropin
BOOT=/boot/firmware

# What the daemon needs at run time, and what building PyAudio and pymicro-features (no arm64
# wheels) needs once.
APT_PACKAGES=(python3 python3-venv python3-dev gcc g++ portaudio19-dev libportaudio2 espeak-ng
              libatomic1 alsa-utils iw rfkill ca-certificates)
APT_OPTIONAL=(python3-picamera2)  # only in Raspberry Pi OS's archive; the camera is off without it

wheel="" models="" units="" vosk_zip="" vosk_model=1 apt=1 find_links=()
while [ $# -gt 0 ]; do
    case $1 in
        --wheel) wheel=$2; shift 2 ;;
        --models) models=$2; shift 2 ;;
        --units) units=$2; shift 2 ;;
        --vosk-zip) vosk_zip=$2; shift 2 ;;
        --no-vosk-model) vosk_model=0; shift ;;
        --no-apt) apt=0; shift ;;
        --pip-find-links) find_links=(--find-links "$2"); shift 2 ;;
        *) echo "provision: unknown option $1" >&2; exit 2 ;;
    esac
done
for need in wheel models units; do
    [ -n "${!need}" ] || { echo "provision: --$need is required" >&2; exit 2; }
done
if [ "$vosk_model" -eq 0 ] && [ -n "$vosk_zip" ]; then
    echo "provision: --vosk-zip and --no-vosk-model contradict each other" >&2; exit 2
fi
[ "$(id -u)" -eq 0 ] || { echo "provision: run as root" >&2; exit 2; }

step() { echo "provision: $*"; }

if [ "$apt" -eq 1 ]; then
    step "apt packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}"
    for pkg in "${APT_OPTIONAL[@]}"; do
        if apt-cache show "$pkg" >/dev/null 2>&1; then
            apt-get install -y -qq --no-install-recommends "$pkg"
        else
            step "WARNING: $pkg is not in this system's archive (not Raspberry Pi OS?): skipped"
        fi
    done
fi

step "user $USER_NAME (groups audio, video, gpio)"
for group in audio video gpio; do
    getent group "$group" >/dev/null || groupadd --system "$group"
done
if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
fi
usermod -a -G audio,video,gpio "$USER_NAME"

step "venv $VENV (with system site packages, for picamera2 and libcamera)"
install -d -m 0755 "$PREFIX"
[ -x "$VENV/bin/python" ] || python3 -m venv --system-site-packages "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "${find_links[@]}" --upgrade "$wheel"

step "models in $PREFIX/models"
install -d -m 0755 "$PREFIX/models"
install -m 0644 "$models/manifest.toml" "$PREFIX/models/manifest.toml"
for shipped in wakeword commands; do  # the wake words and the Chinese command model
    install -d -m 0755 "$PREFIX/models/$shipped"
    for file in "$models"/$shipped/*.tflite "$models"/$shipped/*.json "$models"/$shipped/*.md; do
        install -m 0644 "$file" "$PREFIX/models/$shipped/"
    done
done

step "config and state folders"
install -d -m 0755 /etc/zeropin
install -d -m 0750 -o "$USER_NAME" -g "$USER_NAME" "$STATE" "$STATE/models"
if [ ! -e /etc/zeropin/config.toml ]; then
    cat > /etc/zeropin/config.toml <<'TOML'
# ZeroPin settings for this device. /boot/firmware/zeropin.toml (editable from any laptop)
# is read after this file and wins. `zeropin config show` prints every key and where it came from.
TOML
fi
ln -sf "$VENV/bin/zeropin" /usr/local/bin/zeropin

step "speech models"
fetch() { runuser -u "$USER_NAME" -- "$VENV/bin/zeropin" --set "device.state_dir=$STATE" "$@"; }
if [ "$vosk_model" -eq 0 ]; then
    step "WARNING: no Vosk model (--no-vosk-model): speech recognition falls back to pocketsphinx"
elif [ -n "$vosk_zip" ]; then
    fetch models fetch vosk-small-en-us --from "$vosk_zip"
else
    fetch models fetch vosk-small-en-us || {
        echo "provision: could not download the Vosk model; give --vosk-zip FILE (a copy" \
            "downloaded elsewhere), or --no-vosk-model to go without it" >&2
        exit 1
    }
fi

if [ -d "$BOOT" ] && [ ! -e "$BOOT/zeropin.toml" ]; then
    step "a commented $BOOT/zeropin.toml for the maker to edit"
    install -m 0644 "$(dirname "$0")/zeropin.toml.example" "$BOOT/zeropin.toml"
fi

step "systemd units"
install -m 0644 "$units"/zeropin.service "$units"/zeropin-firstboot.service \
    "$units"/zeropin-web.socket "$units"/zeropin-web.service /etc/systemd/system/
# the page's socket only: systemd starts the page itself when someone opens it
systemctl enable zeropin.service zeropin-firstboot.service zeropin-web.socket
step "done"
