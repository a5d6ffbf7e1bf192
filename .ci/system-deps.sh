#!/usr/bin/env bash
# Debian packages the tests use (HDF5 command-line tools, X server + Mesa for the 3D views, EGL on Mesa for the
# MuJoCo world's offscreen rendering, the ARM
# toolchain and QEMU for firmware-in-the-loop, D-Bus for the fake BlueZ, espeak-ng for the recorder's spoken
# cues). Installs only what is missing.
set -euo pipefail
pkgs=(hdf5-tools socat dbus xvfb xauth libgl1-mesa-dri libglx-mesa0 libegl1 libegl-mesa0 libxcb-icccm4 libxcb-keysyms1
      libxcb-cursor0 libxkbcommon-x11-0 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-randr0
      libxcb-shape0 libxcb-xkb1 gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm espeak-ng)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "system packages missing (run as root or install them): ${missing[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
