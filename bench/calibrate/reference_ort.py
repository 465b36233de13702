#!/usr/bin/env python3
"""Reference for bench/calibrate: what a user would run instead of trt-calibrator.

Modes (one per process, so peak RSS is per mode):
  ort-entropy  ONNX Runtime's quantization calibrator: CalibrationMethod.Entropy, num_bins 2048,
               num_quantized_bins 128, symmetric (onnxruntime.quantization.calibrate.create_calibrator).
  floor        plain FP32 inference of the same model over the same images, no extra outputs.

Images are preprocessed the way trt-calibrator's ImageBatchFactory does with the same options (cv2.imread,
cv2.resize INTER_LINEAR stretch, color order, (x*scale - mean)/std, NCHW float32), in batches.
Prints one JSON line: {"mode", "images", "wall_s", "hist_s", "peak_rss_mb", "tensors"}; hist_s (ort-entropy) is
HistogramCollector.collect (histograms of the kept activations) + compute_data (entropy thresholds).
"""
import argparse
import glob
import json
import os
import resource
import sys
import tempfile
import time

import cv2
import numpy as np
import onnxruntime as ort


def load_batch(files, h, w, color, scale, mean, std):
    out = np.empty((len(files), 3 if color != 'gray' else 1, h, w), dtype=np.float32)
    for i, f in enumerate(files):
        img = cv2.imread(f, cv2.IMREAD_COLOR)
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
        if color == 'rgb':
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        x = img.astype(np.float32) * scale
        x = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
        out[i] = x.transpose(2, 0, 1)
    return out


def batches(files, batch, args):
    for i in range(0, len(files) - batch + 1, batch):
        yield load_batch(files[i:i + batch], args.height, args.width, args.color, args.scale, args.mean, args.std)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('mode', choices=['ort-entropy', 'floor'])
    p.add_argument('model')
    p.add_argument('images')
    p.add_argument('--height', type=int, required=True)
    p.add_argument('--width', type=int, required=True)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--limit', type=int, default=0)
    p.add_argument('--repeat', type=int, default=1, help='use the image list this many times')
    p.add_argument('--color', default='bgr')
    p.add_argument('--scale', type=float, default=1.0)
    p.add_argument('--mean', type=lambda s: [float(v) for v in s.split(',')], default=[0, 0, 0])
    p.add_argument('--std', type=lambda s: [float(v) for v in s.split(',')], default=[1, 1, 1])
    args = p.parse_args()

    files = sorted(glob.glob(os.path.join(args.images, '*.jpg')) + glob.glob(os.path.join(args.images, '*.png')))
    files = files * args.repeat
    if args.limit:
        files = files[:args.limit]
    used = (len(files) // args.batch) * args.batch
    t0 = time.perf_counter()
    hist_s = 0.0
    tensors = 0
    if args.mode == 'floor':
        sess = ort.InferenceSession(args.model, providers=['CPUExecutionProvider'])
        name = sess.get_inputs()[0].name
        for b in batches(files, args.batch, args):
            sess.run(None, {name: b})
    else:
        from onnxruntime.quantization import calibrate as ortcal
        from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator
        # The histograms are built inside collect_data (HistogramCollector.collect, after every batch's
        # activations were kept); time that call too, so hist_s = histograms + thresholds as for trt-calibrator.
        collect_s = [0.0]
        original_collect = ortcal.HistogramCollector.collect

        def timed_collect(self, name_to_arr):
            c0 = time.perf_counter()
            try:
                return original_collect(self, name_to_arr)
            finally:
                collect_s[0] += time.perf_counter() - c0

        ortcal.HistogramCollector.collect = timed_collect
        tmp = tempfile.mkdtemp()
        calibrator = create_calibrator(
            args.model, [], augmented_model_path=os.path.join(tmp, 'augmented.onnx'),
            calibrate_method=CalibrationMethod.Entropy,
            extra_options={'num_bins': 2048, 'num_quantized_bins': 128, 'symmetric': True})

        class Reader:
            def __init__(self):
                self.it = batches(files, args.batch, args)
                self.name = calibrator.infer_session.get_inputs()[0].name

            def get_next(self):
                b = next(self.it, None)
                return None if b is None else {self.name: b}

        calibrator.collect_data(Reader())
        h0 = time.perf_counter()
        ranges = calibrator.compute_data()
        hist_s = collect_s[0] + time.perf_counter() - h0
        tensors = len(list(ranges.keys()))
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'mode': args.mode, 'images': used, 'wall_s': round(wall, 3), 'hist_s': round(hist_s, 3),
                      'peak_rss_mb': round(peak, 1), 'tensors': tensors}))
    sys.stdout.flush()


if __name__ == '__main__':
    main()
