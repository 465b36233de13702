#!/usr/bin/env node
// bench/histogram: writes the derived-tensor plan of a model (the package's own analysis, lib/backends/builtin/derived.ts)
// for histogram_bench, one line per non-Constant node output in graph order (the order dump_activations.py
// writes): `F <name>` for a fetched tensor, `D <name> <root> <op> <k> <input>...` for a derived one, each input
// `T:<tensor>` or `C:<float32 constant>`. Usage: node bench/histogram/write_plan.js MODEL OUT (needs dist/).
'use strict';
const fs = require('node:fs');
const { loadOnnxModel } = require('../../dist/onnx/model');
const { findDerivedTensors } = require('../../dist/onnx/derived');

async function main() {
  const [modelPath, out] = process.argv.slice(2);
  const model = await loadOnnxModel(modelPath);
  const names = model.proto.graph.node.filter((n) => n.opType !== 'Constant').flatMap((n) => n.output);
  const derived = new Map(findDerivedTensors(model.proto, names).map((d) => [d.name, d]));
  const lines = names.map((name) => {
    const d = derived.get(name);
    if (!d) return `F ${name}`;
    const inputs = d.inputs.map((i) => (typeof i === 'number' ? `C:${i}` : `T:${i}`));
    return `D ${name} ${d.root} ${d.op} ${inputs.length} ${inputs.join(' ')}`;
  });
  fs.writeFileSync(out, lines.join('\n') + '\n');
  console.log(`${names.length} tensors, ${derived.size} derived -> ${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
