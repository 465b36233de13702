#!/usr/bin/env python3
"""Runs the ONNX checker (full_check: shape inference too) over Q/DQ models written by trt-calibrator, and
summarizes their Q/DQ nodes. Used once by hand to verify the exporter (the jest suite checks structure and runs
the models in onnxruntime-node); results are recorded in the README.

    TRTC_QDQ_OUT=/tmp/cls.qdq.onnx npx jest test/unit/onnx-qdq.test.ts -t checker
    python3 bench/reference/check_qdq.py /tmp/cls.qdq.onnx
"""
import collections
import sys

import onnx
import onnxruntime as ort


def main(paths):
    for path in paths:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        ops = collections.Counter(n.op_type for n in model.graph.node)
        per_axis = sum(1 for n in model.graph.node if n.op_type == "DequantizeLinear" and any(a.name == "axis" for a in n.attribute))
        opset = [(o.domain or "ai.onnx", o.version) for o in model.opset_import]
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        print(f"{path}: onnx.checker (full_check) OK; opset {opset}; ir_version {model.ir_version}; "
              f"QuantizeLinear {ops['QuantizeLinear']}, DequantizeLinear {ops['DequantizeLinear']} ({per_axis} per-axis); "
              f"onnxruntime {ort.__version__} session OK, inputs {[i.name for i in sess.get_inputs()]}")


if __name__ == "__main__":
    main(sys.argv[1:])
