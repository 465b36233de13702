#!/usr/bin/env bash
# Runs on the GPU machine (x86-64, 16 cores, an NVIDIA GPU, CUDA driver; no Node.js) what needs it, from the files
# bench/device/pack.sh put in .device/: doctor; the GPU checks of the calibrator (test build: pinned slots, device
# buffers, device bytes equal what JavaScript wrote, no leaks over 1,000 runs); the event-loop stalls of calibrate()
# with 16 uncontended cores; the detector calibration benchmark (native and worker paths). Output files go to $OUT
# (or ./device-out) for bench/*/RESULTS.md.
set -uo pipefail
out=${OUT:-device-out}
mkdir -p "$out"
xz -dc .device/node.xz > /tmp/node && chmod +x /tmp/node && export PATH=/tmp:$PATH
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
tar -xJf .device/mods.tar.xz && tar -xJf .device/build.tar.xz
{
  echo "cores: $(nproc), $(grep -m1 'model name' /proc/cpuinfo)"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  node dist/cli.js doctor
} 2>&1 | tee "$out/doctor.txt"
node --expose-gc test/gpu/run-calibrator-checks.js 2>&1 | tee "$out/gpu-checks.txt"
node bench/event-loop/stalls.js --repeat 3 --out "$out/event-loop.json" > "$out/event-loop.txt" 2>&1
tail -30 "$out/event-loop.txt"
dir=bench/.work/calibrate/scenes-100
node dist/cli.js sample-images "$dir" --kind scenes --count 100 > /dev/null
if [[ -f .device/base.tar.xz ]]; then
  # A previous build (pack.sh with TRTC_BASE) in turn with this one, same images: the difference is the code.
  tar -xJf .device/base.tar.xz && ln -sfn ../node_modules base/node_modules && mkdir -p base/bench/.work/calibrate
  for run in 1 2 3 4 5; do
    node bench/calibrate/bench.js --child det "$dir" 100 | sed 's/^{/{"build":"this",/'
    node base/bench/calibrate/bench.js --child det "$dir" 100 2>> "$out/base.stderr" | sed 's/^{/{"build":"base",/'
  done | tee "$out/calibrate.jsonl"
else
  for run in 1 2 3; do node bench/calibrate/bench.js --child det "$dir" 100; done | tee "$out/calibrate.jsonl"
fi
node bench/calibrate/bench.js --child det "$dir" 100 --inference worker | tee -a "$out/calibrate.jsonl"
