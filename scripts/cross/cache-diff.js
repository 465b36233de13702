'use strict';
// Two TensorRT calibration caches (text: "<name>: <float32 scale as hex>"), tensor by tensor: byte-identical, or
// how many scales differ and by how much (relative, and in float32 ULPs: adjacent floats are 1 ULP apart).
// Usage: node scripts/cross/cache-diff.js A.cache B.cache   Prints one JSON line; exit 0 when byte-identical.
const fs = require('node:fs');

const [fa, fb] = process.argv.slice(2);
const A = fs.readFileSync(fa);
const B = fs.readFileSync(fb);
const lines = (buf) => buf.toString('utf8').split('\n').filter(Boolean);
const parse = (buf) =>
  new Map(
    lines(buf)
      .slice(1)
      .map((l) => {
        const i = l.lastIndexOf(': ');
        return [l.slice(0, i), parseInt(l.slice(i + 2), 16)];
      }),
  );
const a = parse(A);
const b = parse(B);
const float = (u) => new Float32Array(new Uint32Array([u]).buffer)[0];
let differ = 0;
let maxUlp = 0;
let maxRel = 0;
let worst = '';
const ulps = {};
for (const [name, x] of a) {
  const y = b.get(name);
  if (y === undefined || x === y) continue;
  differ++;
  const ulp = Math.abs(x - y);
  const rel = Math.abs(float(x) - float(y)) / Math.max(float(x), float(y));
  ulps[ulp] = (ulps[ulp] ?? 0) + 1;
  if (rel > maxRel) [maxRel, worst] = [rel, name];
  maxUlp = Math.max(maxUlp, ulp);
}
const result = {
  identical: A.equals(B),
  sameHeader: lines(A)[0] === lines(B)[0],
  sameTensors: a.size === b.size && [...a.keys()].every((k) => b.has(k)),
  tensors: a.size,
  scalesDiffering: differ,
  maxUlp,
  maxRelative: Number(maxRel.toPrecision(3)),
  worstTensor: worst || undefined,
  ulpHistogram: ulps,
};
console.log(JSON.stringify(result));
process.exit(result.identical ? 0 : 1);
