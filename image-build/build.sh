#!/usr/bin/env bash
# Build a ZeroPin SD-card image from the official Raspberry Pi OS Lite 64-bit image.
#
#   sudo image-build/build.sh --base raspios-lite-arm64.img.xz --out zeropin.img
#        [--sha256 HEX] [--grow 1G] [--vosk-zip vosk-model-small-en-us-0.15.zip|--no-vosk-model]
#
# Verifies the base image's sha256 (--sha256, or the BASE.sha256 file published beside it),
# unpacks it, grows the root partition, loop-mounts it and runs provision.sh in an arm64 chroot
# (qemu-user through binfmt on an x86 host). The FAT boot partition is read and written with
# mtools rather than mounted, so a build host needs no vfat driver (containers, CI runners).
# The image gets the Vosk small English model, so the device never runs on the pocketsphinx
# fallback: downloaded during the build (41 MB, checked against the sha256 pinned in
# models/manifest.toml), or from --vosk-zip, a copy already downloaded (checked here first).
# --no-vosk-model builds without it, for a build host without network.
# Needs root, and on x86: apt-get install qemu-user-static binfmt-support parted e2fsprogs mtools
# xz-utils
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
python=python3
[ -x "$repo/.venv/bin/python" ] && python=$repo/.venv/bin/python  # ./dev made it

base="" out="" sha="" grow=1G vosk_zip="" vosk_model=1
while [ $# -gt 0 ]; do
    case $1 in
        --base) base=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --sha256) sha=$2; shift 2 ;;
        --grow) grow=$2; shift 2 ;;
        --vosk-zip) vosk_zip=$(realpath "$2"); shift 2 ;;
        --no-vosk-model) vosk_model=0; shift ;;
        *) echo "build: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -n "$base" ] && [ -n "$out" ] || { sed -n '4,5p' "$0" >&2; exit 2; }
[ "$vosk_model" -eq 1 ] || [ -z "$vosk_zip" ] \
    || { echo "build: --vosk-zip and --no-vosk-model contradict each other" >&2; exit 2; }
step() { echo "build: $*"; }
pinned_sha256() {  # the sha256 that models/manifest.toml pins for the model named $1
    "$python" - "$repo/models/manifest.toml" "$1" <<'PY'
import sys, tomllib
print(tomllib.load(open(sys.argv[1], "rb"))[sys.argv[2]]["sha256"])
PY
}
if [ -n "$vosk_zip" ]; then
    # A wrong copy fails now, not after many minutes of provisioning.
    [ -f "$vosk_zip" ] || { echo "build: no such file: $vosk_zip" >&2; exit 1; }
    vosk_sha=$(pinned_sha256 vosk-small-en-us)
    echo "$vosk_sha  $vosk_zip" | sha256sum --check --quiet - 2>/dev/null || {
        echo "build: $vosk_zip does not match the sha256 of vosk-small-en-us pinned in" \
            "models/manifest.toml ($vosk_sha)" >&2
        exit 1
    }
fi
[ "$(id -u)" -eq 0 ] || { echo "build: run as root (loop devices, chroot)" >&2; exit 2; }
[ -f "$base" ] || { echo "build: no such file: $base" >&2; exit 1; }
started=$SECONDS

if [ -z "$sha" ] && [ -f "$base.sha256" ]; then sha=$(cut -d' ' -f1 "$base.sha256"); fi
[ -n "$sha" ] || { echo "build: no sha256 for $base: give --sha256 or put $base.sha256 beside it" >&2; exit 1; }
step "checking the sha256 of $base"
echo "$sha  $base" | sha256sum --check --quiet - \
    || { echo "build: $base does not match its sha256: download it again" >&2; exit 1; }

step "unpacking into $out"
case $base in
    *.xz) xz -dc "$base" > "$out" ;;
    *) cp --sparse=always "$base" "$out" ;;
esac
truncate -s "+$grow" "$out"
parted -s "$out" resizepart 2 100%

# Partition offsets from the table; loop devices by offset work where partition scanning does not.
part() { parted -s -m "$out" unit B print | awk -F: -v n="$1" '$1==n {sub("B","",$2); sub("B","",$4); print $2, $4}'; }
read -r boot_start _ < <(part 1)
read -r root_start root_size < <(part 2)

mnt=$(mktemp -d /tmp/zeropin-build.XXXXXX)
loops=()
cleanup() {
    set +e
    for sub in dev/pts dev proc sys ""; do
        mountpoint -q "$mnt/$sub" && umount -l "$mnt/$sub"
    done
    for loop in "${loops[@]}"; do losetup -d "$loop"; done
    rmdir "$mnt"
}
trap cleanup EXIT
trap "exit 130" INT TERM  # runs the EXIT trap: nothing stays mounted

root_loop=$(losetup --find --show --offset "$root_start" --sizelimit "$root_size" "$out")
loops+=("$root_loop")
step "growing the root file system"
e2fsck -p -f "$root_loop" >/dev/null || [ $? -le 1 ]
resize2fs -p "$root_loop" >/dev/null 2>&1

mount "$root_loop" "$mnt"
boot_fat="$out@@$boot_start"
mkdir -p "$mnt/boot/firmware"
[ -z "$(ls -A "$mnt/boot/firmware")" ] || { echo "build: $mnt/boot/firmware is not empty" >&2; exit 1; }
step "copying the boot partition in"
mcopy -s -m -n -i "$boot_fat" '::*' "$mnt/boot/firmware/"
for sub in dev dev/pts proc sys; do mount --bind "/$sub" "$mnt/$sub"; done

step "staging the wheel, models, units and provisioning"
stage=$mnt/tmp/zeropin-build
rm -rf "$stage" && mkdir -p "$stage/wheel"
"$python" -m pip wheel -q --no-deps -w "$stage/wheel" "$repo"
wheel_name=$(cd "$stage/wheel" && ls -- *.whl)
cp -r "$repo/systemd" "$stage/units"
mkdir -p "$stage/models"
cp "$repo/models/manifest.toml" "$stage/models/"
for shipped in wakeword commands; do  # the models that ship in the repository, with their cards
    mkdir -p "$stage/models/$shipped"
    cp "$repo"/models/$shipped/*.tflite "$repo"/models/$shipped/*.json \
        "$repo"/models/$shipped/*.md "$stage/models/$shipped/"
done
cp "$here/provision.sh" "$here/zeropin.toml.example" "$stage/"
# pip and the model download in the chroot trust what the host trusts (a company proxy's CA,
# say), for this build only
cp -L /etc/ssl/certs/ca-certificates.crt "$stage/host-ca.crt"
args=(--wheel "/tmp/zeropin-build/wheel/$wheel_name" --models /tmp/zeropin-build/models
      --units /tmp/zeropin-build/units)
if [ -n "$vosk_zip" ]; then
    # read by provision.sh as the zeropin user
    install -m 0644 "$vosk_zip" "$stage/vosk-model.zip"
    args+=(--vosk-zip /tmp/zeropin-build/vosk-model.zip)
fi
[ "$vosk_model" -eq 1 ] || args+=(--no-vosk-model)

# No services start inside the chroot, and none of the host's settings leak in.
printf '#!/bin/sh\nexit 101\n' > "$mnt/usr/sbin/policy-rc.d" && chmod +x "$mnt/usr/sbin/policy-rc.d"
resolv_backup=""
if [ -e "$mnt/etc/resolv.conf" ] || [ -L "$mnt/etc/resolv.conf" ]; then
    resolv_backup=$stage/resolv.conf.orig && mv "$mnt/etc/resolv.conf" "$resolv_backup"
fi
cp -L /etc/resolv.conf "$mnt/etc/resolv.conf"

step "provisioning in the arm64 chroot"
chroot "$mnt" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 PIP_CERT=/tmp/zeropin-build/host-ca.crt \
    REQUESTS_CA_BUNDLE=/tmp/zeropin-build/host-ca.crt \
    /bin/bash /tmp/zeropin-build/provision.sh "${args[@]}"

rm -f "$mnt/usr/sbin/policy-rc.d" "$mnt/etc/resolv.conf"
[ -n "$resolv_backup" ] && mv "$resolv_backup" "$mnt/etc/resolv.conf"
rm -rf "$stage"
step "copying the boot partition back"
mcopy -s -m -o -i "$boot_fat" "$mnt"/boot/firmware/* ::
find "$mnt/boot/firmware" -mindepth 1 -delete  # the root keeps an empty mount point
cleanup
trap - EXIT
step "$out ready in $((SECONDS - started)) s"
