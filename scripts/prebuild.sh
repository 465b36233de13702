#!/bin/sh
# Builds the prebuilt addons the package ships: prebuilds/linux-x64 and prebuilds/linux-arm64, the builtin backend
# only (CMake option TRTC_PREBUILD=ON: no CUDA, no TensorRT, no test code), then writes prebuilds/SHA256SUMS and
# prebuilds/BUILDINFO.json and runs the checks CI runs (scripts/prebuilds.js check).
#
# Both are compiled in a Debian bullseye root (scripts/cross/bullseye-root.sh, made with debootstrap from Debian's
# mirror): GCC 10 against glibc 2.31 for x86-64, and Debian's aarch64 cross compiler (g++-aarch64-linux-gnu 10,
# cross glibc 2.31) for arm64, through cmake-js from node_modules with the toolchain file
# scripts/cross/aarch64-linux-gnu.cmake. So they load on Ubuntu 20.04 and JetPack 5 and everything newer.
# Reproducible: the sources are copied to the same path in the root on every run, the addons are stripped, and the
# same root gives byte-identical files (`--verify` rebuilds and compares with the committed SHA256SUMS).
#
# Needs root (debootstrap, chroot, mount) and about 2 GB of disk for the root; the first run downloads ~280 MB of
# Debian packages, later runs take ~2 minutes on 2 cores.
# Usage: sudo sh scripts/prebuild.sh [--verify]
#   Env: TRTC_BULLSEYE_ROOT (default /var/cache/trt-calibrator/bullseye), DEBIAN_MIRROR
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
ROOT=${TRTC_BULLSEYE_ROOT:-/var/cache/trt-calibrator/bullseye}
export TRTC_BULLSEYE_ROOT=$ROOT
verify=0
[ "${1:-}" = --verify ] && verify=1
[ "$(id -u)" = 0 ] || { echo "prebuild: needs root (debootstrap, chroot, mount): sudo sh scripts/prebuild.sh" >&2; exit 1; }
start=$(date +%s)

sh scripts/cross/bullseye-root.sh
out=$ROOT/build/out
rm -rf "$out" && mkdir -p "$out"
cmjs="node node_modules/cmake-js/bin/cmake-js rebuild --CDTRTC_PREBUILD=ON --CDCMAKE_BUILD_TYPE=Release"
sh scripts/cross/in-root.sh "set -e; cd /build/src
  $cmjs -O /build/out/x64
  strip --strip-unneeded -o /build/out/linux-x64.node /build/out/x64/Release/trt_calibrator.node
  $cmjs --arch arm64 -O /build/out/arm64 --CDCMAKE_TOOLCHAIN_FILE=/build/src/scripts/cross/aarch64-linux-gnu.cmake
  aarch64-linux-gnu-strip --strip-unneeded -o /build/out/linux-arm64.node /build/out/arm64/Release/trt_calibrator.node
  dpkg-query -W -f '\${Package}=\${Version}\n' g++-10 libc6-dev libstdc++-10-dev binutils cmake ninja-build \
    g++-10-aarch64-linux-gnu libc6-dev-arm64-cross libstdc++-10-dev-arm64-cross binutils-aarch64-linux-gnu \
    > /build/out/packages.txt" > "$out.log" 2>&1 || { tail -40 "$out.log"; echo "prebuild: build failed (log: $out.log)" >&2; exit 1; }
grep 'trt-calibrator:' "$out.log" | sort -u

if [ $verify = 1 ]; then
  tmp=$(mktemp -d)
  for tag in linux-x64 linux-arm64; do mkdir -p "$tmp/$tag" && cp "$out/$tag.node" "$tmp/$tag/trt_calibrator.node"; done
  (cd "$tmp" && sha256sum -c "$repo/prebuilds/SHA256SUMS") && ok=0 || ok=1
  rm -rf "$tmp"
  echo "prebuild --verify: $([ $ok = 0 ] && echo 'rebuilt addons are byte-identical to prebuilds/' || echo 'rebuilt addons DIFFER from prebuilds/') ($(( $(date +%s) - start )) s)"
  exit $ok
fi

for tag in linux-x64 linux-arm64; do
  mkdir -p "prebuilds/$tag"
  cp "$out/$tag.node" "prebuilds/$tag/trt_calibrator.node"
done
# What the addons were built with, for BUILDINFO.json.
node -e '
const fs = require("node:fs");
const pkgs = Object.fromEntries(fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split("=")));
const v = (name) => require(`${name}/package.json`).version;
const build = {
  command: "sudo sh scripts/prebuild.sh",
  root: "Debian bullseye (debootstrap --variant=minbase)",
  debianPackages: pkgs,
  cmakeOptions: "TRTC_PREBUILD=ON (TRTC_CUDA=OFF, TRTC_TENSORRT=OFF, TRTC_TEST_HOOKS=OFF), CMAKE_BUILD_TYPE=Release",
  strip: "--strip-unneeded",
  npm: { "cmake-js": v("cmake-js"), "node-addon-api": v("node-addon-api"), "node-api-headers": v("node-api-headers") },
};
fs.writeFileSync(process.argv[2], JSON.stringify(build));' "$out/packages.txt" "$out/build.json"
node scripts/prebuilds.js write --build-json "$out/build.json"
node scripts/prebuilds.js check --release
echo "prebuild: done in $(( $(date +%s) - start )) s; commit prebuilds/"
