#!/usr/bin/env python3
"""Checks Q/DQ models written by trt-calibrator with the ONNX checker (full_check: shape inference too) and an
onnxruntime session, and checks the placement rules on them: no weighted op (Conv, ConvTranspose, Gemm, MatMul)
with a dequantized weight but a plain data input or the reverse, no per-channel ConvTranspose weight, and, for the
models this script makes itself, the residual and squeeze-excitation Adds of the PaddleOCR models.

    npx tsc -p tsconfig.build.json        # the script runs dist/cli.js
    python3 bench/reference/check_qdq.py  # both PaddleOCR models, FP32 and --fp16 Q/DQ
    python3 bench/reference/check_qdq.py some.qdq.onnx ...

Without arguments it computes min/max scales (max|x|/127 of every float activation on one seeded random input)
with onnxruntime, writes them as a JSON cache, runs `trt-calibrator qdq` (and `qdq --fp16`) on the PaddleOCR
classifier and detector, and checks the results. Exits 1 on the first failed check. Results are in the README.
"""
import collections
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ASSETS = os.path.join(ROOT, "node_modules", "@gutenye", "ocr-models", "assets")
MODELS = {
    # name: (file, input shape, expected residual Adds quantized, expected Adds skipped as "both inputs come from Conv")
    "classifier": ("ch_ppocr_mobile_v2.0_cls_infer.onnx", [1, 3, 48, 192], 7, 0),
    "detector": ("ch_PP-OCRv4_det_infer.onnx", [1, 3, 320, 320], 0, 8),
}
WEIGHTED = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def fail(message):
    print(f"FAILED: {message}")
    sys.exit(1)


def minmax_scales(path, shape):
    """max|x|/127 of the input and of every float32 node output on one seeded random input."""
    model = onnx.load(path)
    known = {o.name for o in model.graph.output}
    for node in model.graph.node:
        for out in node.output:
            if out and out not in known and node.op_type != "Constant":
                model.graph.output.append(onnx.ValueInfoProto(name=out))
                known.add(out)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)
    outputs = session.run(None, {name: x})
    scales = {name: float(np.abs(x).max()) / 127}
    for meta, value in zip(session.get_outputs(), outputs):
        if isinstance(value, np.ndarray) and value.dtype == np.float32 and value.size and np.abs(value).max() > 0:
            scales[meta.name] = float(np.abs(value).max()) / 127
    return scales


def check(path):
    """The ONNX checker, an onnxruntime session and the all-or-nothing rule; returns the model."""
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    producers = {o: n for n in model.graph.node for o in n.output}

    def dequantized(tensor):
        dq = producers.get(tensor)
        return dq is not None and dq.op_type == "DequantizeLinear" and producers.get(dq.input[0]) is not None

    for node in model.graph.node:
        if node.op_type in WEIGHTED and len(node.input) >= 2 and dequantized(node.input[0]) != dequantized(node.input[1]):
            fail(f"{path}: {node.op_type} {node.name!r} has Q/DQ on only one of its data input and weight")
        if node.op_type == "ConvTranspose" and dequantized(node.input[1]):
            q = producers[producers[node.input[1]].input[0]]
            if any(a.name == "axis" for a in q.attribute):
                fail(f"{path}: ConvTranspose {node.name!r} has a per-channel weight")
    ops = collections.Counter(n.op_type for n in model.graph.node)
    per_axis = sum(1 for n in model.graph.node if n.op_type == "DequantizeLinear" and any(a.name == "axis" for a in n.attribute))
    opset = [(o.domain or "ai.onnx", o.version) for o in model.opset_import]
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the float16 models make ORT's CPU fusions warn that they have no fp16 kernel
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    print(f"{path}: onnx.checker (full_check) OK; opset {opset}; ir_version {model.ir_version}; "
          f"QuantizeLinear {ops['QuantizeLinear']}, DequantizeLinear {ops['DequantizeLinear']} ({per_axis} per-axis); "
          f"no weight-only or input-only Q/DQ; onnxruntime {ort.__version__} session OK, "
          f"inputs {[(i.name, i.type) for i in session.get_inputs()]}")
    return model


def run_cli(args):
    cli = os.path.join(ROOT, "dist", "cli.js")
    if not os.path.exists(cli):
        fail("dist/cli.js is missing: run `npx tsc -p tsconfig.build.json` first")
    done = subprocess.run(["node", cli, *args, "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"trt-calibrator {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return json.loads(done.stdout)


def check_paddleocr():
    with tempfile.TemporaryDirectory() as work:
        for name, (file, shape, residual_expected, se_expected) in MODELS.items():
            path = os.path.join(ASSETS, file)
            cache = os.path.join(work, f"{name}.json")
            with open(cache, "w") as f:
                json.dump({"tensors": {t: {"scale": s} for t, s in minmax_scales(path, shape).items()}}, f)
            for flags in ([], ["--fp16"]):
                out = os.path.join(work, f"{name}{'.fp16' if flags else ''}.qdq.onnx")
                result = run_cli(["qdq", path, "--cache", cache, "--out", out, *flags])
                model = check(out)
                residual = [a for a in result["residualAdds"] if "residual" in a]
                se = [a for a in result["residualAdds"] if a.get("skipped", "").startswith("both inputs come from Conv")]
                if len(residual) != residual_expected or len(se) != se_expected:
                    fail(f"{name}: {len(residual)} residual Adds quantized, {len(se)} SE Adds skipped; "
                         f"expected {residual_expected} and {se_expected}")
                if result["fp32Nodes"]:
                    fail(f"{name}: weighted ops left FP32: {result['fp32Nodes']}")
                producers = {o: n for n in model.graph.node for o in n.output}
                for add in se:
                    node = next(n for n in model.graph.node if f'Add "{n.name}"' == add["node"])
                    if any(producers.get(i) is not None and producers[i].op_type == "DequantizeLinear" for i in node.input):
                        fail(f"{name}: SE {add['node']} reads a dequantized input")
                if flags:
                    inits = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT]
                    islands = set(result["float16"]["float32Nodes"])
                    kept = {i for n in model.graph.node if n.op_type == "Resize" for i in n.input[1:3]}
                    kept |= {i for n in model.graph.node if f'{n.op_type} "{n.name}"' in islands for i in n.input}
                    if any(t.name not in kept for t in inits):
                        fail(f"{name} --fp16: float32 initializers left: {[t.name for t in inits if t.name not in kept]}")
                print(f"  {name}{' --fp16' if flags else ''}: {len(residual)} residual Adds quantized, "
                      f"{len(se)} squeeze-excitation Adds left alone, {len(result['activations'])} activations, "
                      f"{len(result['weights'])} weights "
                      f"({sum(1 for w in result['weights'] if w['granularity'] == 'per-tensor')} per tensor)")


def main(paths):
    if paths:
        for path in paths:
            check(path)
    else:
        check_paddleocr()


if __name__ == "__main__":
    main(sys.argv[1:])
