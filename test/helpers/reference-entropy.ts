/**
 * The plain, slow reference of TensorRT's entropy calibration (the README's "Calibration algorithms", as NVIDIA's
 * pytorch-quantization computes it), used by the tests to check the native thresholds on the same counts.
 */

// Math's methods (and Infinity) through local names: a global lookup inside jest's VM context costs ~0.4 µs.
const { floor, log } = Math;
const INF = Infinity;

/** TensorRT.md §4 / pytorch-quantization _compute_amax_entropy: returns the chosen i (amax = i * width). */
export function referenceEntropyBin(counts: Float64Array): number {
  const bins = Float64Array.from(counts);
  bins[0] = bins[1];
  const nbins = bins.length;
  const levels = 128;
  const levelSum = new Float64Array(levels);
  const levelCount = new Float64Array(levels);
  const p = new Float64Array(nbins);
  const q = new Float64Array(nbins);
  let bestI = -1;
  let bestKl = INF;
  for (let i = levels; i <= nbins; i++) {
    // Q: bins[0..i-1] merged into 128 levels, each level's total spread evenly over its non-zero source bins.
    levelSum.fill(0);
    levelCount.fill(0);
    for (let j = 0; j < i; j++) {
      if (bins[j] !== 0) {
        const level = floor((levels * j) / i);
        levelSum[level] += bins[j];
        levelCount[level] += 1;
      }
    }
    for (let j = 0; j < i; j++) {
      q[j] = bins[j] !== 0 ? levelSum[floor((levels * j) / i)] / levelCount[floor((levels * j) / i)] : 0;
    }
    // P: bins[0..i-1] with the outliers (bins i..) folded into P[i-1].
    for (let j = 0; j < i; j++) p[j] = bins[j];
    let outliers = 0;
    for (let j = i; j < nbins; j++) outliers += bins[j];
    p[i - 1] += outliers;
    let sumP = 0;
    let sumQ = 0;
    for (let j = 0; j < i; j++) {
      sumP += p[j];
      sumQ += q[j];
    }
    // KL(P||Q) of the normalized distributions; P > 0 where Q = 0 (or an empty Q) is +INF.
    let kl = 0;
    if (sumQ === 0 || sumP === 0) kl = INF;
    for (let j = 0; j < i && kl !== INF; j++) {
      const pj = p[j] / sumP;
      if (pj === 0) continue;
      const qj = q[j] / sumQ;
      if (qj === 0) kl = INF;
      else kl += pj * log(pj / qj);
    }
    // The LAST minimum.
    if (kl <= bestKl) {
      bestKl = kl;
      bestI = i;
    }
  }
  return bestI;
}
