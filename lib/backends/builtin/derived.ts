/**
 * Derived activations: tensors that are a few element-wise steps away from another activation (x·s + b with
 * scalar s and b, hard-swish written as Add/Clip/Mul/Div, ReLU). The calibration pass asks ONNX Runtime only
 * for the others ("roots") and computes these while it histograms their root (native/builtin/derived.h), because
 * every activation exposed as a graph output costs ONNX Runtime its operator fusions and layout reorders. In
 * the PaddleOCR detector 213 of the 330 activations (70 % of the values) are derived from 117 roots; its ONNX
 * Runtime run takes about 25 ms per image instead of 32 ms.
 *
 * What qualifies (everything else is fetched from ONNX Runtime as before): a default-domain Add, Sub, Mul,
 * Div, Clip or Relu node with one output, whose inputs are float32 scalar constants (Constant nodes or
 * initializers that are not graph inputs) or activations that all come from the same root, at least one of
 * them an activation. Clip's bounds must be constants (opset 11+ inputs, or the attributes before); an absent
 * bound is ∓3.4028234663852886e38, as ONNX Runtime's kernel uses. Each step is one float32 operation, so the
 * values, and so the histograms and the cache, are the ones ONNX Runtime would have output (tested on the
 * PaddleOCR models).
 */
import type { onnx } from 'onnx-proto';
import { defaultOpsetVersion, floatValues, int64ToNumber } from '../../onnx/model';

/** An activation computed element-wise from a fetched one (see the module comment). */
export interface DerivedTensor {
  /** ONNX value name (it gets a cache entry like every activation). */
  readonly name: string;
  /** The activation ONNX Runtime outputs that this one is computed from. */
  readonly root: string;
  /** The ONNX operator. */
  readonly op: DerivedOp;
  /**
   * Inputs in ONNX order: the root or a tensor derived from it earlier (names), or float32 constants (numbers).
   * Clip: [x, min, max] with both bounds as numbers; Relu: [x].
   */
  readonly inputs: ReadonlyArray<string | number>;
}

/** Operators a derived tensor may come from. */
export type DerivedOp = 'Add' | 'Sub' | 'Mul' | 'Div' | 'Clip' | 'Relu';

/** ONNX Runtime's Clip bounds when one is absent (std::numeric_limits<float>::lowest() and max()). */
const FLOAT_MAX = 3.4028234663852886e38;

const BINARY = new Set(['Add', 'Sub', 'Mul', 'Div']);

/** The float32 scalar constants of the main graph by name: Constant nodes, and initializers no input overrides. */
function scalarConstants(graph: onnx.IGraphProto): Map<string, number> {
  const result = new Map<string, number>();
  const scalar = (t: onnx.ITensorProto | null | undefined): number | undefined => {
    if (!t || t.dataType !== 1 || t.dataLocation === 1) return undefined; // FLOAT, not external
    // One element, by the dims alone: reading the values of every weight tensor (all of the model's bytes)
    // would take milliseconds of the JS thread.
    if ((t.dims ?? []).some((d) => int64ToNumber(d) !== 1)) return undefined;
    try {
      const values = floatValues(t);
      return values.length === 1 ? values[0] : undefined;
    } catch {
      return undefined;
    }
  };
  const inputs = new Set((graph.input ?? []).map((i) => i.name ?? ''));
  for (const init of graph.initializer ?? []) {
    const value = scalar(init);
    if (init.name && !inputs.has(init.name) && value !== undefined) result.set(init.name, value);
  }
  for (const node of graph.node ?? []) {
    if (node.opType !== 'Constant' || (node.domain && node.domain !== 'ai.onnx') || node.output?.length !== 1) continue;
    const attr = node.attribute?.[0];
    if (node.attribute?.length !== 1 || !attr) continue;
    const value =
      attr.name === 'value' ? scalar(attr.t) : attr.name === 'value_float' ? Math.fround(attr.f ?? 0) : undefined;
    if (value !== undefined) result.set(node.output[0], value);
  }
  return result;
}

/**
 * Finds the derived tensors among `activations` (node outputs in graph order that are not constants), in
 * graph order. A derived tensor's root is an activation that is not derived itself; whether it is float32 is
 * for the caller to check (a derived tensor has its root's element type: every op here preserves it).
 */
export function findDerivedTensors(proto: onnx.IModelProto, activations: readonly string[]): DerivedTensor[] {
  const graph = proto.graph;
  if (!graph) return [];
  const constants = scalarConstants(graph);
  const opset = defaultOpsetVersion(proto as onnx.ModelProto) ?? 1;
  const isActivation = new Set(activations);
  const rootOf = new Map<string, string>(); // every activation seen so far -> its root (a root: itself)
  const derived: DerivedTensor[] = [];
  for (const node of graph.node ?? []) {
    const outputs = (node.output ?? []).filter((o) => o);
    const ownRoots = () => {
      for (const o of outputs) if (isActivation.has(o) && !rootOf.has(o)) rootOf.set(o, o);
    };
    const op = node.opType ?? '';
    const defaultDomain = !node.domain || node.domain === 'ai.onnx';
    if (
      !defaultDomain ||
      outputs.length !== 1 ||
      node.output?.length !== 1 ||
      !isActivation.has(outputs[0]) ||
      !(BINARY.has(op) || op === 'Clip' || op === 'Relu')
    ) {
      ownRoots();
      continue;
    }
    const inputs: Array<string | number> = [];
    let root: string | undefined;
    let ok = true;
    const operand = (name: string | undefined, constantOnly: boolean): void => {
      if (!ok) return;
      const constant = name ? constants.get(name) : undefined;
      if (constant !== undefined) {
        inputs.push(constant);
        return;
      }
      const r = name && !constantOnly ? rootOf.get(name) : undefined;
      if (r === undefined || (root !== undefined && r !== root)) {
        ok = false;
        return;
      }
      root = r;
      inputs.push(name as string);
    };
    const nodeInputs = node.input ?? [];
    if (BINARY.has(op)) {
      if (nodeInputs.length !== 2) ok = false;
      operand(nodeInputs[0], false);
      operand(nodeInputs[1], false);
    } else if (op === 'Relu') {
      if (nodeInputs.length !== 1) ok = false;
      operand(nodeInputs[0], false);
    } else {
      // Clip: bounds as inputs from opset 11, as attributes before.
      operand(nodeInputs[0], false);
      if (opset >= 11) {
        if (nodeInputs.length > 3) ok = false;
        for (const [i, fallback] of [
          [1, -FLOAT_MAX],
          [2, FLOAT_MAX],
        ] as const) {
          if (nodeInputs[i]) operand(nodeInputs[i], true);
          else inputs.push(fallback);
        }
      } else {
        const attr = (key: string) => node.attribute?.find((a) => a.name === key);
        inputs.push(Math.fround(attr('min')?.f ?? -FLOAT_MAX), Math.fround(attr('max')?.f ?? FLOAT_MAX));
      }
    }
    if (!ok || root === undefined) {
      ownRoots();
      continue;
    }
    rootOf.set(outputs[0], root);
    derived.push({ name: outputs[0], root, op: op as DerivedOp, inputs });
  }
  return derived;
}
