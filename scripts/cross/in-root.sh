#!/bin/sh
# Runs a shell command inside the bullseye root (scripts/cross/bullseye-root.sh) with the repository's sources
# copied to /build/src (the files git tracks or would track, of CMakeLists.txt, package.json, native/, scripts/cross/), its node_modules
# bind-mounted read-only at /build/src/node_modules (cmake-js, node-addon-api, node-api-headers) and this
# machine's Node binary at /usr/local/bin/node. The copy is made afresh on every call, at the same path, so
# builds do not depend on where the repository lives. Mounts are undone on exit. Needs root.
# Usage: sh scripts/cross/in-root.sh 'command'   Env: TRTC_BULLSEYE_ROOT (as bullseye-root.sh)
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
ROOT=${TRTC_BULLSEYE_ROOT:-/var/cache/trt-calibrator/bullseye}
[ -x "$ROOT/usr/bin/cmake" ] || { echo "in-root: no bullseye root at $ROOT (run scripts/cross/bullseye-root.sh)" >&2; exit 1; }
src=$ROOT/build/src
umount_all() {
  mountpoint -q "$src/node_modules" && umount "$src/node_modules"
  mountpoint -q "$ROOT/proc" && umount "$ROOT/proc"
  return 0
}
trap umount_all EXIT INT TERM
umount_all
rm -rf "$src"
mkdir -p "$src/node_modules" "$ROOT/build/out"
cd "$repo"
if [ -e .git ]; then
  git ls-files -z -c -o --exclude-standard CMakeLists.txt package.json native scripts/cross | xargs -0 cp --parents -t "$src"
else
  cp -r --parents CMakeLists.txt package.json native scripts/cross "$src"
fi
mount --bind "$(readlink -f "$repo/node_modules")" "$src/node_modules"
mount -o remount,bind,ro "$src/node_modules"
mount -t proc proc "$ROOT/proc"
node=$(command -v node)
cmp -s "$node" "$ROOT/usr/local/bin/node" || cp "$node" "$ROOT/usr/local/bin/node"
chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 /bin/sh -c "$1"
