#!/usr/bin/env python3
"""The Python preprocessing a user would write (one process, cv2 default threads): 1080p JPEG -> 3x224x224 RGB
ImageNet-normalized NCHW float32, batches of 8. Prints {"images": N, "seconds": S, "images_per_s": R}."""
import json
import os
import sys
import time

import cv2
import numpy as np

d = sys.argv[1]
files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith('.jpg'))
mean = np.array([0.485, 0.456, 0.406], np.float32)
std = np.array([0.229, 0.224, 0.225], np.float32)
n = len(files) // 8 * 8
t0 = time.perf_counter()
checksum = 0.0
for i in range(0, n, 8):
    batch = np.empty((8, 3, 224, 224), np.float32)
    for j, f in enumerate(files[i:i + 8]):
        img = cv2.imread(f)
        img = cv2.resize(img, (224, 224), interpolation=cv2.INTER_LINEAR)
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        batch[j] = ((img.astype(np.float32) * np.float32(1 / 255) - mean) / std).transpose(2, 0, 1)
    checksum += float(batch[:, :, 0, 0].sum())
dt = time.perf_counter() - t0
print(json.dumps({'images': n, 'seconds': dt, 'images_per_s': n / dt, 'threads': cv2.getNumThreads(), 'checksum': checksum}))
