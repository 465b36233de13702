#!/bin/sh
# The project's one install command for developers and CI (README "Install and test"):
#   1. Debian packages the test suite needs and npm cannot provide: Chromium (the calibration report is checked
#      in a headless browser), DejaVu fonts (synthetic text images) and binutils (readelf, for the prebuilt addons'
#      symbol versions). Installed with apt only when missing.
#   2. npm ci: dependencies from the npm registry, the native addon (cmake-js), the TypeScript build.
# Users of the package need neither: `npm install trt-calibrator` is enough.
set -eu
cd "$(dirname "$0")/.."
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$missing fonts-dejavu-core"
# readelf: the prebuilt addons' symbol-version check (scripts/prebuilds.js)
command -v readelf >/dev/null 2>&1 || missing="$missing binutils"
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  else
    echo "setup: please install$missing (Debian: sudo apt-get install$missing), then run this again" >&2
    exit 1
  fi
fi
npm ci
