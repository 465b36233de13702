/** A seeded pseudo-random generator shared by everything that must be reproducible (shuffles, synthetic data). */

/**
 * mulberry32: a small, fast 32-bit generator; returns numbers in [0, 1). Not for cryptography. The same seed
 * gives the same sequence on every platform.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  const imul = Math.imul; // a local name: global lookups are slow inside jest's sandbox
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
