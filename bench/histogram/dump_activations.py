"""Dumps every float activation of a model for a few images, for bench/histogram (run.sh).

Usage: python3 dump_activations.py MODEL IMAGE_DIR COUNT OUT_DIR [--size 320]
Writes OUT_DIR/acts.bin (float32, image by image, tensors in graph order: every node output except Constant
nodes', the tensors calibrate() histograms) and OUT_DIR/acts.idx (one value count per tensor, same order).
Preprocessing as bench/calibrate: cv2 resize to SIZE x SIZE, x / 255, ImageNet mean/std, CHW.
"""
import glob
import os
import sys

import cv2
import numpy as np
import onnx
import onnxruntime as ort


def main():
    model_path, image_dir, count, out_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    size = int(sys.argv[sys.argv.index('--size') + 1]) if '--size' in sys.argv else 320
    m = onnx.load(model_path)
    names = [o for n in m.graph.node if n.op_type != 'Constant' for o in n.output]
    del m.graph.output[:]
    for name in names:
        m.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(m.SerializeToString(), so, providers=['CPUExecutionProvider'])
    files = sorted(glob.glob(os.path.join(image_dir, '*.jpg')))[:count]
    os.makedirs(out_dir, exist_ok=True)
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    with open(os.path.join(out_dir, 'acts.bin'), 'wb') as data, open(os.path.join(out_dir, 'acts.idx'), 'w') as idx:
        for f in files:
            img = cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2RGB)
            img = cv2.resize(img, (size, size)).astype(np.float32) / 255.0
            x = ((img - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)
            for out in s.run(names, {s.get_inputs()[0].name: x}):
                a = np.ascontiguousarray(out, dtype=np.float32).ravel()
                data.write(a.tobytes())
                idx.write(f'{a.size}\n')
    print(f'{len(files)} images x {len(names)} tensors -> {out_dir}')


if __name__ == '__main__':
    main()
