"""The numpy way to histogram the same activations (bench/histogram/run.sh): per image and tensor,
np.histogram(|x|, 2048 bins, range (0, max|x|)) — the core of ONNX Runtime's Python HistogramCollector
(entropy/percentile), without its re-binning when the range grows. Images 1..N-1, best of 3; one JSON line.

Usage: python3 reference_numpy.py DIR [TENSORS]
"""
import json
import os
import sys
import time

import numpy as np


def main():
    d = sys.argv[1]
    tensors = int(sys.argv[2]) if len(sys.argv) > 2 else 330
    sizes = [int(line) for line in open(os.path.join(d, 'acts.idx'))]
    values = np.fromfile(os.path.join(d, 'acts.bin'), dtype=np.float32)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    images = len(sizes) // tensors
    best = float('inf')
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(1, images):
            for t in range(tensors):
                k = i * tensors + t
                a = np.abs(values[offsets[k]:offsets[k + 1]])
                m = float(a.max()) if a.size else 0.0
                np.histogram(a, bins=2048, range=(0.0, m if m > 0 else 1.0))
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({'images': images, 'tensors': tensors, 'numpy_ms_per_image': round(best * 1e3 / (images - 1), 2)}))


if __name__ == '__main__':
    main()
