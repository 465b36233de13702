/**
 * ONNX Runtime (onnxruntime-node, CPU) sessions from model bytes, with ORT's load errors turned into ERR_MODEL
 * errors that name the node and operator.
 */
import * as ort from 'onnxruntime-node';
import type { onnx } from 'onnx-proto';
import { TrtCalibratorError } from '../errors';

/** Options for {@link createCpuSession}. */
export interface CpuSessionOptions {
  /**
   * The model proto the bytes were encoded from, used to describe a failing node (op type, outputs) in errors.
   * Defaults to undefined (the error then names what ONNX Runtime's message names).
   */
  proto?: onnx.IModelProto;
  /** Where the model came from, for messages. Defaults to "the model". */
  source?: string;
  /** Threads ONNX Runtime may use inside one operator. Defaults to ONNX Runtime's choice (all cores). */
  intraOpNumThreads?: number;
  /** ONNX Runtime graph optimization level. Defaults to 'all'. */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

/** What describeOrtLoadError found in an ONNX Runtime load error. */
export interface OrtNodeProblem {
  /** The node's name (may be empty: ONNX allows unnamed nodes). */
  nodeName?: string;
  /** The node's operator type. */
  opType?: string;
  /** The operator's domain ("" is the default ONNX domain). */
  domain?: string;
  /** The node's index in the graph when the node was found in the model. */
  nodeIndex?: number;
}

/**
 * Creates an ONNX Runtime CPU session from model bytes. A model ONNX Runtime cannot load (unknown operator, bad
 * attribute, broken graph) rejects with ERR_MODEL naming the node and operator; `details` holds
 * {@link OrtNodeProblem} fields and `ortMessage`.
 */
export async function createCpuSession(
  bytes: Uint8Array,
  options: CpuSessionOptions = {},
): Promise<ort.InferenceSession> {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    // ONNX Runtime's own log stays quiet (fatal only): its load and run failures reach the caller as ERR_MODEL errors
    // that carry its message, and its warnings (a constant it cannot fold) are not the user's to act on.
    logSeverityLevel: 4,
  };
  if (options.intraOpNumThreads !== undefined) sessionOptions.intraOpNumThreads = options.intraOpNumThreads;
  try {
    return await ort.InferenceSession.create(bytes, sessionOptions);
  } catch (err) {
    throw ortLoadError(err, options.proto, options.source ?? 'the model');
  }
}

/**
 * Creates a CPU session for a Q/DQ model that computes what the Q/DQ pairs mean: every QuantizeLinear →
 * DequantizeLinear pair rounds and clamps in float, the compute ops run in FP32 ("fake quantization", the model
 * TensorRT's INT8 layers are checked against). ONNX Runtime's 'extended' and 'all' levels instead fuse the pairs
 * into its own int8 kernels (QGemm, MatMulIntegerToFloat, QLinearConv), whose results depend on the CPU: with
 * onnxruntime-node 1.30 on an AVX2-only AMD EPYC, a Conv→Gemm→MatMul model gave outputs off by 80 % of their range
 * at level 'all' and within 5 % at 'basic'. Graph optimizations that do not touch Q/DQ (constant folding,
 * redundant node elimination) still run.
 */
export async function createQdqSession(
  bytes: Uint8Array,
  options: Omit<CpuSessionOptions, 'graphOptimizationLevel'> = {},
): Promise<ort.InferenceSession> {
  return createCpuSession(bytes, { ...options, graphOptimizationLevel: 'basic' });
}

/** Turns an ONNX Runtime session-creation error into ERR_MODEL naming the node and operator where it can. */
export function ortLoadError(err: unknown, proto: onnx.IModelProto | undefined, source: string): TrtCalibratorError {
  const ortMessage = err instanceof Error ? err.message : String(err);
  const problem = describeOrtLoadError(ortMessage, proto);
  let what = '';
  if (problem.opType !== undefined || problem.nodeName !== undefined) {
    const name = problem.nodeName
      ? `"${problem.nodeName}"`
      : problem.nodeIndex !== undefined
        ? `#${problem.nodeIndex} (unnamed)`
        : '(unnamed)';
    const op = problem.opType ? ` (op ${problem.domain ? `${problem.domain}:` : ''}${problem.opType})` : '';
    what = ` at node ${name}${op}`;
  }
  return new TrtCalibratorError('ERR_MODEL', `ONNX Runtime cannot run ${source}${what}: ${ortMessage}`, {
    cause: err,
    details: { ...problem, ortMessage },
  });
}

/**
 * Finds the node and operator an ONNX Runtime load error is about. Recognizes the messages of onnxruntime 1.x:
 * `In Node, ("name", Op, "domain", …)`, `Node (name) Op (Op)`, `domain:Op(ver) is not a registered function/op`,
 * `… node with name 'name'` and `Node input 'x' is not a graph input…`.
 */
export function describeOrtLoadError(message: string, proto?: onnx.IModelProto): OrtNodeProblem {
  const nodes = proto?.graph?.node ?? [];
  const found: OrtNodeProblem = {};
  let m: RegExpExecArray | null;
  if ((m = /In Node, \("([^"]*)", ([\w.]+), "([^"]*)"/.exec(message))) {
    found.nodeName = m[1];
    found.opType = m[2];
    found.domain = m[3];
  } else if ((m = /Node \(([^)]*)\) Op \(([\w.]+)\)/.exec(message))) {
    found.nodeName = m[1];
    found.opType = m[2];
  } else if ((m = /([\w.]*):([\w.]+)\(-?\d+\) is not a registered function\/op/.exec(message))) {
    found.domain = m[1];
    found.opType = m[2];
  } else if ((m = /node with name '([^']*)'/.exec(message))) {
    found.nodeName = m[1];
    const op = /implementation for ([\w.]+)\(/.exec(message);
    if (op) found.opType = op[1];
  } else if ((m = /Node input '([^']*)' is not a graph input/.exec(message))) {
    const input = m[1];
    const index = nodes.findIndex((n) => (n.input ?? []).includes(input));
    if (index >= 0) return fromNode(nodes[index], index);
    return found;
  } else {
    return found;
  }
  // Locate the node in the model: by name when it has one, else the first node of that op type.
  let index = found.nodeName ? nodes.findIndex((n) => n.name === found.nodeName) : -1;
  if (index < 0 && found.opType)
    index = nodes.findIndex(
      (n) => n.opType === found.opType && (found.domain === undefined || (n.domain ?? '') === found.domain),
    );
  if (index >= 0) return { ...fromNode(nodes[index], index), ...definedOnly(found) };
  return found;
}

function fromNode(node: onnx.INodeProto, index: number): OrtNodeProblem {
  return { nodeName: node.name ?? '', opType: node.opType ?? '', domain: node.domain ?? '', nodeIndex: index };
}

function definedOnly(problem: OrtNodeProblem): OrtNodeProblem {
  const out: OrtNodeProblem = {};
  if (problem.nodeName) out.nodeName = problem.nodeName;
  if (problem.opType) out.opType = problem.opType;
  if (problem.domain) out.domain = problem.domain;
  return out;
}
