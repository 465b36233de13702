/**
 * Where Q/DQ pairs go: the graph analysis behind {@link insertQdq} (qdq.ts), separate from the rewriting.
 *
 * The rules, in the order they are decided (each later rule looks at what the earlier ones quantized):
 * 1. Weighted ops (Conv, ConvTranspose, Gemm, MatMul) are all-or-nothing: every activation input gets a per-tensor
 *    pair and the constant weight a pair of its own, or, when any of them cannot be quantized (no usable scale, a
 *    computed Conv weight, a constant data input, a non-float32 weight), none does and the node is listed as FP32.
 *    A weight-only pair would give no INT8 kernel, only the weight's rounding error.
 * 2. Residual Add: of an Add of two computed tensors, the input that is NOT the output of a Conv's fusible epilogue
 *    (the skip connection) is quantized, so that the Add can be fused into that Conv as an INT8 kernel with an INT8
 *    residual. The epilogue is followed backwards from the Add's input: an optional MaxPool, an optional activation
 *    (Relu, Clip, LeakyRelu, HardSwish, Sigmoid(t)·t, HardSigmoid(t)·t), an optional BatchNormalization, an
 *    optional bias Add and an optional constant Mul/Div, then the Conv/ConvTranspose (the "backbone"). With a
 *    backbone on both inputs, the input further from the two inputs' nearest common ancestor is the fused one; with
 *    a backbone on one input only, the Add is no residual Add when that Conv is itself the nearest common ancestor
 *    (Add(conv, conv·gate), squeeze-excitation: the Conv output is needed elsewhere, nothing can fuse). Nothing is
 *    quantized when the fused input's backbone runs in FP32.
 * 3. Resize whose data input is the epilogue output of a quantized Conv: that input is quantized, so the Conv can
 *    write INT8 and the Resize move INT8 data.
 * 4. Pooling (mode 'neighbors'): AveragePool/GlobalAveragePool inputs are quantized when the pooling op is next to
 *    a quantized op: its input comes from one (through data-movement ops), or its output feeds one. MaxPool is
 *    left to TensorRT's Q/DQ propagation (max commutes with quantization). Mode 'all' quantizes the input of every
 *    pooling op, 'none' of none.
 * 5. Concat: when its output and some of its inputs carry pairs, those pairs share one scale (the largest of
 *    theirs), so the inputs need no requantization to the output's scale.
 */
import type { onnx } from 'onnx-proto';
import { int64ToNumber } from './model';

/** Which pooling inputs get Q/DQ: see the module comment. */
import type { PoolingMode } from '../options/qdq';

export type { PoolingMode };

/** A weighted op left entirely in FP32 (all-or-nothing), with why. */
export interface Fp32Node {
  /** `Op "name"` of the node. */
  readonly node: string;
  /** The node's operator type. */
  readonly op: string;
  /** One reason per input that could not be quantized, e.g. `input "x": no scale in the cache`. */
  readonly reasons: readonly string[];
}

/** What was decided for one Add of two computed tensors. */
export interface ResidualAdd {
  /** `Add "name"`. */
  readonly node: string;
  /** The residual (skip) input that got a Q/DQ pair; absent when none did. */
  readonly residual?: string;
  /** The Conv/ConvTranspose the other input is the epilogue of, `Op "name"`; absent when there is none. */
  readonly backbone?: string;
  /** Why no input was quantized; absent when one was. */
  readonly skipped?: string;
}

/** A compute-op input left in FP32, with the reason. */
export interface UnquantizedInput {
  /** Tensor name. */
  readonly tensor: string;
  /** Consuming node, `Op "name"`. */
  readonly consumer: string;
  /** Why, e.g. `no scale in the cache`. */
  readonly reason: string;
}

/** One consumer input that reads a tensor through its Q/DQ pair. */
export interface InputUse {
  /** The consuming node. */
  readonly node: onnx.INodeProto;
  /** The index of the input in `node.input`. */
  readonly index: number;
}

/** A weight input to quantize. */
export interface WeightUse extends InputUse {
  /** The per-channel axis; undefined for one per-tensor scale. */
  readonly axis: number | undefined;
}

/** The placement decided by {@link planPlacement}. */
export interface PlacementPlan {
  /** Activation tensor → the inputs that read it through one shared per-tensor pair. */
  readonly activations: Map<string, InputUse[]>;
  /** Weight inputs, in graph order. */
  readonly weights: WeightUse[];
  /** Weighted ops left entirely in FP32. */
  readonly fp32Nodes: Fp32Node[];
  /** Inputs that were to be quantized but have no usable scale (or weight). */
  readonly unquantized: UnquantizedInput[];
  /** The decision for every Add of two computed tensors. */
  readonly residualAdds: ResidualAdd[];
  /** Groups of quantized tensors that must share one scale (Concat inputs and output). */
  readonly sharedScaleGroups: { readonly tensors: string[]; readonly concats: string[] }[];
}

/** Options of {@link planPlacement}. */
export interface PlacementOptions {
  /** Quantize the skip input of residual Adds (rule 2). */
  readonly residualAdd: boolean;
  /** Which pooling inputs to quantize (rule 4). */
  readonly pooling: PoolingMode;
  /** Why `tensor` cannot get a per-tensor pair (no scale, bad scale), or undefined when it can. */
  readonly scaleProblem: (tensor: string) => string | undefined;
}

const WEIGHTED_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);
const AVERAGE_POOLS = new Set(['AveragePool', 'GlobalAveragePool']);
const ALL_POOLS = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool']);
/** Data-movement ops that Q/DQ commute with: a pooling op's neighbour is looked for through them. */
const DATA_MOVEMENT_OPS = new Set([
  'Flatten',
  'Transpose',
  'Concat',
  'Split',
  'Squeeze',
  'Unsqueeze',
  'Expand',
  'Reshape',
  'Tile',
  'Gather',
  'Slice',
  'Identity',
]);
const SIMPLE_ACTIVATIONS = new Set(['Relu', 'Clip', 'LeakyRelu', 'HardSwish']);

/** Producers, consumers and constants of one graph. */
export class GraphIndex {
  /** The node that outputs each tensor. */
  readonly producers = new Map<string, onnx.INodeProto>();
  /** The nodes that read each tensor, in graph order. */
  readonly consumers = new Map<string, onnx.INodeProto[]>();
  /** Initializers by name. */
  readonly initializers: Map<string, onnx.ITensorProto>;

  constructor(readonly graph: onnx.IGraphProto) {
    this.initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
    for (const node of graph.node ?? []) {
      for (const out of node.output ?? []) if (out) this.producers.set(out, node);
      for (const input of node.input ?? []) {
        if (!input) continue;
        const list = this.consumers.get(input);
        if (list) list.push(node);
        else this.consumers.set(input, [node]);
      }
    }
  }

  /** The tensor's value when it is an initializer or a Constant node's output. */
  constantTensor(name: string): onnx.ITensorProto | undefined {
    const init = this.initializers.get(name);
    if (init) return init;
    const producer = this.producers.get(name);
    if (producer && producer.opType === 'Constant' && isDefaultDomain(producer)) {
      return (producer.attribute ?? []).find((a) => a.name === 'value')?.t ?? undefined;
    }
    return undefined;
  }

  /** True for initializers and outputs of Constant nodes. */
  isConstant(name: string): boolean {
    if (this.initializers.has(name)) return true;
    const p = this.producers.get(name);
    return p !== undefined && p.opType === 'Constant';
  }

  /** The node's computed (non-constant, non-empty) inputs. */
  computedInputs(node: onnx.INodeProto): string[] {
    return (node.input ?? []).filter((i) => i && !this.isConstant(i));
  }
}

/** `Op "name"` of a node, for messages and results. */
export function nodeLabel(node: onnx.INodeProto): string {
  return `${node.opType} "${node.name || (node.output ?? [])[0] || '?'}"`;
}

function isDefaultDomain(node: onnx.INodeProto): boolean {
  return !node.domain || node.domain === 'ai.onnx';
}

/**
 * The Conv/ConvTranspose whose fusible epilogue produces `tensor` (see the module comment), or undefined. The
 * stages are matched in order, each at most once: MaxPool, activation, BatchNormalization, bias Add, constant
 * Mul/Div, then the Conv.
 */
export function fusibleBackbone(index: GraphIndex, tensor: string): onnx.INodeProto | undefined {
  let node = index.producers.get(tensor);
  let stage = 0; // 0 MaxPool, 1 activation, 2 BatchNormalization, 3 bias Add, 4 constant Mul/Div, 5 Conv
  while (node && isDefaultDomain(node)) {
    const op = node.opType ?? '';
    if (op === 'Conv' || op === 'ConvTranspose') return node;
    const input = stepBack(index, node, op, stage);
    if (!input) return undefined;
    stage = input.stage + 1;
    node = index.producers.get(input.tensor);
  }
  return undefined;
}

/** The epilogue stage `node` is (at or after `minStage`) and the tensor it reads, or undefined. */
function stepBack(
  index: GraphIndex,
  node: onnx.INodeProto,
  op: string,
  minStage: number,
): { stage: number; tensor: string } | undefined {
  const computed = index.computedInputs(node);
  const first = (node.input ?? [])[0] ?? '';
  if (op === 'MaxPool' && minStage <= 0 && computed.length === 1) return { stage: 0, tensor: first };
  if (minStage <= 1) {
    if (SIMPLE_ACTIVATIONS.has(op) && computed.length === 1 && computed[0] === first)
      return { stage: 1, tensor: first };
    // SiLU and hard swish written out: Mul(t, Sigmoid(t)) or Mul(t, HardSigmoid(t)).
    if (op === 'Mul' && computed.length === 2) {
      for (const [t, gate] of [computed, [...computed].reverse()]) {
        const g = index.producers.get(gate);
        if (g && (g.opType === 'Sigmoid' || g.opType === 'HardSigmoid') && (g.input ?? [])[0] === t)
          return { stage: 1, tensor: t };
      }
    }
  }
  if (op === 'BatchNormalization' && minStage <= 2 && computed.length === 1 && computed[0] === first)
    return { stage: 2, tensor: first };
  if (op === 'Add' && minStage <= 3 && computed.length === 1 && (node.input ?? []).length === 2)
    return { stage: 3, tensor: computed[0] };
  // A constant scale: Mul by a constant on either side, or division by one.
  if (minStage <= 4 && computed.length === 1 && (node.input ?? []).length === 2) {
    if (op === 'Mul' || (op === 'Div' && computed[0] === first)) return { stage: 4, tensor: computed[0] };
  }
  return undefined;
}

/** Shortest distance (in nodes) from `node` to each of its ancestors, itself at 0. */
function ancestors(index: GraphIndex, node: onnx.INodeProto): Map<onnx.INodeProto, number> {
  const dist = new Map<onnx.INodeProto, number>([[node, 0]]);
  const queue = [node];
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i];
    const d = dist.get(n) as number;
    for (const input of n.input ?? []) {
      const p = input ? index.producers.get(input) : undefined;
      if (p && !dist.has(p)) {
        dist.set(p, d + 1);
        queue.push(p);
      }
    }
  }
  return dist;
}

/**
 * The nearest common ancestor of the producers of two tensors and the distance of each producer to it; a tensor
 * without producer (graph input) has no ancestors.
 */
function nearestCommonAncestor(
  index: GraphIndex,
  a: string,
  b: string,
): { node: onnx.INodeProto; da: number; db: number } | undefined {
  const pa = index.producers.get(a);
  const pb = index.producers.get(b);
  if (!pa || !pb) return undefined;
  const da = ancestors(index, pa);
  const db = ancestors(index, pb);
  let best: { node: onnx.INodeProto; da: number; db: number } | undefined;
  for (const [node, d] of da) {
    const e = db.get(node);
    if (e === undefined) continue;
    if (!best || d + e < best.da + best.db || (d + e === best.da + best.db && d < best.da))
      best = { node, da: d, db: e };
  }
  return best;
}

interface ResidualAnalysis {
  residualIndex?: number;
  backbone?: onnx.INodeProto;
  skipped?: string;
}

/** Which input of a two-input Add is the residual one (see the module comment). */
export function analyzeResidualAdd(index: GraphIndex, node: onnx.INodeProto): ResidualAnalysis {
  const [a, b] = node.input ?? [];
  const ba = fusibleBackbone(index, a);
  const bb = fusibleBackbone(index, b);
  if (!ba && !bb) return { skipped: 'neither input is the output of a Conv (through BN/bias/activation)' };
  const nca = nearestCommonAncestor(index, a, b);
  if (ba && bb) {
    if (ba === bb) return { skipped: `both inputs come from ${nodeLabel(ba)}` };
    // The fused input is the one on the longer path from the common ancestor; the other is the skip connection.
    const fusedIsA = nca !== undefined && nca.da > nca.db;
    return fusedIsA ? { residualIndex: 1, backbone: ba } : { residualIndex: 0, backbone: bb };
  }
  const backbone = (ba ?? bb) as onnx.INodeProto;
  if (nca && nca.node === backbone)
    return { skipped: `both inputs come from ${nodeLabel(backbone)} (its output is also used elsewhere)` };
  return { residualIndex: ba ? 1 : 0, backbone };
}

/** Decides every Q/DQ pair of the graph (see the module comment). */
export function planPlacement(index: GraphIndex, options: PlacementOptions): PlacementPlan {
  const nodes = index.graph.node ?? [];
  const activations = new Map<string, InputUse[]>();
  const weights: WeightUse[] = [];
  const fp32Nodes: Fp32Node[] = [];
  const unquantized: UnquantizedInput[] = [];
  const residualAdds: ResidualAdd[] = [];
  const quantized = new Set<onnx.INodeProto>();

  const useActivation = (node: onnx.INodeProto, i: number): void => {
    const tensor = (node.input ?? [])[i];
    const list = activations.get(tensor);
    if (list) list.push({ node, index: i });
    else activations.set(tensor, [{ node, index: i }]);
  };
  /** Quantizes input `i` of `node` when its scale allows; otherwise records why not. */
  const tryActivation = (node: onnx.INodeProto, i: number): boolean => {
    const tensor = (node.input ?? [])[i];
    const problem = options.scaleProblem(tensor);
    if (problem) {
      unquantized.push({ tensor, consumer: nodeLabel(node), reason: problem });
      return false;
    }
    useActivation(node, i);
    return true;
  };

  // 1. Weighted ops, all or nothing.
  for (const node of nodes) {
    if (!isDefaultDomain(node) || !WEIGHTED_OPS.has(node.opType ?? '')) continue;
    const plan = weightedInputs(index, node);
    const problems: { tensor: string; reason: string }[] = [...plan.problems];
    for (const i of plan.activations) {
      const tensor = (node.input ?? [])[i];
      const reason = options.scaleProblem(tensor);
      if (reason) problems.push({ tensor, reason });
    }
    if (problems.length > 0) {
      for (const p of problems) unquantized.push({ tensor: p.tensor, consumer: nodeLabel(node), reason: p.reason });
      fp32Nodes.push({
        node: nodeLabel(node),
        op: node.opType ?? '',
        reasons: problems.map((p) => `input "${p.tensor}": ${p.reason}`),
      });
      continue;
    }
    for (const i of plan.activations) useActivation(node, i);
    if (plan.weight) weights.push({ node, index: plan.weight.index, axis: plan.weight.axis });
    quantized.add(node);
  }

  // 2. Residual Adds.
  for (const node of nodes) {
    if (!isDefaultDomain(node) || node.opType !== 'Add') continue;
    const inputs = node.input ?? [];
    if (inputs.length !== 2 || index.computedInputs(node).length !== 2) continue;
    const label = nodeLabel(node);
    if (!options.residualAdd) {
      residualAdds.push({ node: label, skipped: 'residual Add quantization is off' });
      continue;
    }
    const analysis = analyzeResidualAdd(index, node);
    const backbone = analysis.backbone ? nodeLabel(analysis.backbone) : undefined;
    if (analysis.residualIndex === undefined || !analysis.backbone) {
      residualAdds.push({ node: label, skipped: analysis.skipped ?? 'not a residual Add' });
    } else if (!quantized.has(analysis.backbone)) {
      residualAdds.push({ node: label, backbone, skipped: `${backbone} runs in FP32` });
    } else if (!tryActivation(node, analysis.residualIndex)) {
      const tensor = inputs[analysis.residualIndex];
      residualAdds.push({ node: label, backbone, skipped: `residual "${tensor}": ${options.scaleProblem(tensor)}` });
    } else {
      residualAdds.push({ node: label, residual: inputs[analysis.residualIndex], backbone });
      quantized.add(node);
    }
  }

  // 3. Resize of a quantized Conv's output.
  for (const node of nodes) {
    if (!isDefaultDomain(node) || node.opType !== 'Resize') continue;
    const data = (node.input ?? [])[0];
    if (!data || index.isConstant(data)) continue;
    const backbone = fusibleBackbone(index, data);
    if (backbone && quantized.has(backbone) && tryActivation(node, 0)) quantized.add(node);
  }

  // 4. Pooling.
  const poolingOps = options.pooling === 'all' ? ALL_POOLS : options.pooling === 'neighbors' ? AVERAGE_POOLS : null;
  if (poolingOps) {
    for (const node of nodes) {
      if (!isDefaultDomain(node) || !poolingOps.has(node.opType ?? '')) continue;
      const data = (node.input ?? [])[0];
      if (!data || index.isConstant(data)) continue;
      if (options.pooling === 'all' || nextToQuantized(index, node, quantized)) tryActivation(node, 0);
    }
  }

  // 5. Concat: quantized inputs and the quantized output share one scale.
  const sharedScaleGroups = concatGroups(index, activations);
  return { activations, weights, fp32Nodes, unquantized, residualAdds, sharedScaleGroups };
}

/** The activation inputs and the weight of a weighted op, or why one of them cannot be quantized. */
function weightedInputs(
  index: GraphIndex,
  node: onnx.INodeProto,
): {
  activations: number[];
  weight?: { index: number; axis: number | undefined };
  problems: { tensor: string; reason: string }[];
} {
  const op = node.opType ?? '';
  const inputs = node.input ?? [];
  const problems: { tensor: string; reason: string }[] = [];
  const activations: number[] = [];
  const data = inputs[0] ?? '';
  if (data && index.isConstant(data)) problems.push({ tensor: data, reason: 'the data input is a constant' });
  else if (data) activations.push(0);
  const second = inputs[1] ?? '';
  if (!second) return { activations, problems };
  const constant = index.constantTensor(second);
  if (op === 'Conv' || op === 'ConvTranspose') {
    if (!constant) {
      problems.push({ tensor: second, reason: 'the weight is computed, not a constant' });
      return { activations, problems };
    }
  } else if (!index.isConstant(second)) {
    activations.push(1); // Gemm/MatMul of two activations
    return { activations, problems };
  }
  if (!constant) {
    problems.push({ tensor: second, reason: 'the weight is not a readable constant' });
    return { activations, problems };
  }
  if (constant.dataType !== 1) {
    problems.push({ tensor: second, reason: `the weight is not float32 (ONNX type ${constant.dataType})` });
    return { activations, problems };
  }
  const rank = (constant.dims ?? []).length;
  if (rank === 0) {
    problems.push({ tensor: second, reason: 'the weight is a scalar' });
    return { activations, problems };
  }
  let axis: number | undefined;
  if (op === 'Conv') axis = 0;
  else if (op === 'ConvTranspose')
    axis = undefined; // per tensor: see the README, "ConvTranspose weights"
  else if (op === 'Gemm') {
    const transB = (node.attribute ?? []).find((a) => a.name === 'transB');
    axis = int64ToNumber(transB?.i) === 1 ? 0 : 1;
  } else axis = rank >= 2 ? rank - 1 : undefined; // MatMul: the N axis of [..., K, N]; a vector B has none
  return { activations, weight: { index: 1, axis }, problems };
}

/** True when a pooling op reads from or feeds (through data-movement ops) a quantized op. */
function nextToQuantized(index: GraphIndex, node: onnx.INodeProto, quantized: ReadonlySet<onnx.INodeProto>): boolean {
  // Upstream: the producer of the pooling input, through data-movement ops and Casts.
  let producer = index.producers.get((node.input ?? [])[0] ?? '');
  for (let hops = 0; producer && hops < 16; hops++) {
    if (quantized.has(producer)) return true;
    const op = producer.opType ?? '';
    if (!(DATA_MOVEMENT_OPS.has(op) || op === 'Cast')) break;
    const computed = index.computedInputs(producer);
    if (computed.length !== 1) break;
    producer = index.producers.get(computed[0]);
  }
  // Downstream: any consumer of the output, through data-movement ops.
  const seen = new Set<onnx.INodeProto>();
  const queue = [...(node.output ?? [])].filter(Boolean);
  for (let i = 0; i < queue.length && i < 256; i++) {
    for (const consumer of index.consumers.get(queue[i]) ?? []) {
      if (seen.has(consumer)) continue;
      seen.add(consumer);
      if (quantized.has(consumer)) return true;
      if (DATA_MOVEMENT_OPS.has(consumer.opType ?? '')) queue.push(...(consumer.output ?? []).filter(Boolean));
    }
  }
  return false;
}

/** Union-find over Concat outputs with pairs and their inputs with pairs. */
function concatGroups(
  index: GraphIndex,
  activations: ReadonlyMap<string, InputUse[]>,
): { tensors: string[]; concats: string[] }[] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    while (parent.get(root) !== root) root = parent.get(root) as string;
    parent.set(x, root);
    return root;
  };
  const concatsOf = new Map<string, string[]>();
  for (const node of index.graph.node ?? []) {
    if (!isDefaultDomain(node) || node.opType !== 'Concat') continue;
    const out = (node.output ?? [])[0];
    if (!out || !activations.has(out)) continue;
    const inputs = [...new Set((node.input ?? []).filter((i) => i && activations.has(i)))];
    if (inputs.length === 0) continue;
    for (const t of [out, ...inputs]) if (!parent.has(t)) parent.set(t, t);
    for (const t of inputs) parent.set(find(t), find(out));
    concatsOf.set(out, [...(concatsOf.get(out) ?? []), nodeLabel(node)]);
  }
  const groups = new Map<string, { tensors: string[]; concats: string[] }>();
  for (const t of parent.keys()) {
    const root = find(t);
    const g = groups.get(root) ?? { tensors: [], concats: [] };
    g.tensors.push(t);
    g.concats.push(...(concatsOf.get(t) ?? []));
    groups.set(root, g);
  }
  return [...groups.values()];
}
