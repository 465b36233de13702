#!/usr/bin/env bash
# bench/calibrate on the GPU machine of the device tool (16 cores, no Node, no Python ONNX Runtime): the builtin
# backend's ONNX Runtime thread split there. Pack first, here: this machine's Node binary as .device/node.xz,
# .device/mods.tar.xz (runtime node_modules: onnxruntime-node linux-x64, sharp, protobufjs, commander...) and
# .device/extra.tar.xz (opencv-js, the two PaddleOCR models); then run with carry [.device, dist,
# build/Release/trt_calibrator.node]. Prints one JSON line per run (bench.js --child), and doctor.
set -euo pipefail
xz -dc .device/node.xz > /tmp/node && chmod +x /tmp/node && export PATH=/tmp:$PATH
tar -xJf .device/mods.tar.xz && tar -xJf .device/extra.tar.xz
node dist/cli.js doctor
echo "cores: $(nproc), $(grep -m1 'model name' /proc/cpuinfo)"
dir=bench/.work/calibrate/scenes-100
node dist/cli.js sample-images "$dir" --kind scenes --count 100 > /dev/null
for threads in "" 16 "" 6; do
  node bench/calibrate/bench.js --child det "$dir" 100 ${threads:+--threads $threads}
done
node bench/calibrate/bench.js --child det "$dir" 100 --inference worker
