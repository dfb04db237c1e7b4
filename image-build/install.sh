#!/usr/bin/env bash
# Install ZeroPin onto a Raspberry Pi that already runs Raspberry Pi OS (Bookworm, 64-bit):
#
#   git clone <this repository> zeropin && cd zeropin && sudo image-build/install.sh
#        [--vosk-zip FILE]   a copy of the Vosk model already downloaded (else it is fetched:
#                            41 MB, checked against the sha256 in models/manifest.toml)
#        [--no-vosk-model]   without it: speech recognition falls back to pocketsphinx
#
# The same provisioning as the image build (provision.sh), run on the live system, then the
# service is started. Safe to run again to upgrade.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
[ "$(id -u)" -eq 0 ] || { echo "install: run with sudo" >&2; exit 2; }

extra=()
case ${1:-} in
    --vosk-zip) extra=(--vosk-zip "$(realpath "$2")") ;;
    --no-vosk-model) extra=(--no-vosk-model) ;;
    "") ;;
    *) echo "install: unknown option $1" >&2; exit 2 ;;
esac

apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "install: building the ZeroPin wheel"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" wheel -q --no-deps -w "$work/wheel" "$repo"

"$here/provision.sh" --wheel "$(ls "$work"/wheel/*.whl)" --models "$repo/models" \
    --units "$repo/systemd" "${extra[@]}"
systemctl daemon-reload
systemctl restart zeropin-firstboot.service zeropin.service
echo "install: done; check it with: zeropin doctor"
