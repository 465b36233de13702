#!/bin/sh
# The build root shared by scripts/prebuild.sh and scripts/arm64-emulation.sh: Debian bullseye (glibc 2.31,
# GCC 10, CMake 3.18, Ninja) with Debian's aarch64 cross compiler (g++-aarch64-linux-gnu 10, cross glibc 2.31),
# made by debootstrap from Debian's mirror. Addons compiled in it need at most GLIBC_2.31 / GLIBCXX_3.4.28, so
# they load on Ubuntu 20.04 and JetPack 5 (L4T r35); the symbol gate in scripts/prebuilds.js checks the real need.
# Needs root. Re-runnable: a complete root is reused as it is.
# Usage: sh scripts/cross/bullseye-root.sh   Env: TRTC_BULLSEYE_ROOT (default /var/cache/trt-calibrator/bullseye),
#        DEBIAN_MIRROR (default http://deb.debian.org/debian)
set -eu
ROOT=${TRTC_BULLSEYE_ROOT:-/var/cache/trt-calibrator/bullseye}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PKGS=g++,make,cmake,ninja-build,g++-aarch64-linux-gnu,binutils,ca-certificates
[ "$(id -u)" = 0 ] || { echo "bullseye-root: needs root (debootstrap, chroot)" >&2; exit 1; }
if [ -x "$ROOT/usr/bin/aarch64-linux-gnu-g++" ] && [ -x "$ROOT/usr/bin/cmake" ] && [ -x "$ROOT/usr/bin/ninja" ]; then
  exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "bullseye-root: installing debootstrap (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
echo "bullseye-root: debootstrap bullseye into $ROOT (about 280 MB of packages)"
rm -rf "$ROOT"
mkdir -p "$(dirname "$ROOT")"
debootstrap --variant=minbase --include="$PKGS" bullseye "$ROOT" "$MIRROR" >/dev/null
chroot "$ROOT" sh -c 'ldd --version | head -1; g++ --version | head -1; aarch64-linux-gnu-g++ --version | head -1'
