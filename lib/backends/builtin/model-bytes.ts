/**
 * The calibration model's bytes without encoding the model again. The calibration model is the loaded model plus
 * graph outputs, and protobuf lets those be added to the encoded bytes: a message is the sequence of its fields, and
 * the elements of a repeated field are read in the order they come. So the ModelProto's `graph` field (field 7) is
 * rewritten in place as the bytes before it, a new tag and length, the graph's own bytes, the added outputs
 * (GraphProto field 12, a ValueInfoProto with just a name each) and the bytes after it: one ordinary encoding with
 * one graph field, which every protobuf reader (ONNX Runtime's, onnx-proto's) decodes to the edited model. (Appending
 * a second graph field instead would be merged by ONNX Runtime's protobuf, but onnx-proto keeps only the last one.)
 * For the PaddleOCR detector (4.7 MB) this replaces 20-40 ms of copying, decoding and encoding the whole model on the
 * JS thread with encoding the 117 added outputs, 0.3-4 ms (bench/event-loop/RESULTS.md).
 *
 * A model without such bytes (external data was inlined, or it was decoded elsewhere) is encoded here instead, its
 * nodes and initializers a slice at a time with the event loop served in between: a model of hundreds of MB would
 * otherwise block it for seconds.
 */
import { onnx } from 'onnx-proto';
import { TrtCalibratorError } from '../../errors';
import { encodeOnnxModel, type OnnxModel } from '../../onnx/model';
import { protoFields } from '../../onnx/protobuf';
import { ownTurn } from '../../util/event-loop';

/**
 * A model as pieces of bytes: `head`, then the graph field's tag and length, then `graph` (the GraphProto's
 * content), then `tail`. The pieces are views (into the model file's bytes, or into encodings made here).
 */
export interface ModelLayout {
  readonly head: readonly Uint8Array[];
  readonly graph: readonly Uint8Array[];
  readonly tail: readonly Uint8Array[];
}

/** ModelProto.graph: field 7, length-delimited. */
const GRAPH_TAG = (7 << 3) | 2;
/** Protobuf's limit on a message's size, which ONNX Runtime's parser enforces. */
const MAX_MESSAGE_BYTES = 2 ** 31 - 1;
/** The JS thread yields to the event loop after this much encoding (fallback path). */
const SLICE_MS = 4;

/**
 * The model's layout: split from its file's bytes where they encode it exactly (one graph field), else encoded in
 * slices that yield to the event loop. Throws ERR_MODEL past protobuf's 2 GiB limit.
 */
export async function modelLayout(model: OnnxModel): Promise<ModelLayout> {
  return (model.bytes && splitAtGraph(model.bytes)) ?? (await encodeInSlices(model.proto));
}

/**
 * The model's bytes with `outputs` appended to its graph outputs (names only: ONNX Runtime infers type and shape), as
 * pieces whose concatenation is the model. Only the small new pieces are allocated.
 */
export function withGraphOutputs(layout: ModelLayout, outputs: readonly string[]): Uint8Array[] {
  const added =
    outputs.length === 0
      ? new Uint8Array(0)
      : onnx.GraphProto.encode(
          onnx.GraphProto.create({ output: outputs.map((name) => onnx.ValueInfoProto.create({ name })) }),
        ).finish();
  const graphBytes = layout.graph.reduce((n, piece) => n + piece.length, 0) + added.length;
  const total = [...layout.head, ...layout.tail].reduce((n, piece) => n + piece.length, 0) + graphBytes + 6;
  if (total > MAX_MESSAGE_BYTES)
    throw new TrtCalibratorError(
      'ERR_MODEL',
      `Could not serialize the ONNX model: ${total} bytes exceed protobuf's 2 GiB limit`,
    );
  const header = [...varint(GRAPH_TAG), ...varint(graphBytes)];
  return [...layout.head, Uint8Array.from(header), ...layout.graph, added, ...layout.tail].filter((p) => p.length > 0);
}

/** The pieces as one buffer. */
export function concatBytes(pieces: readonly Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(pieces.reduce((n, piece) => n + piece.length, 0));
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return bytes;
}

/**
 * Splits an encoded ModelProto around its graph field by reading only the top-level keys and lengths. Undefined
 * when the bytes are not what that needs (no graph field or several, or malformed), the caller then encodes.
 */
export function splitAtGraph(bytes: Uint8Array): ModelLayout | undefined {
  const graphs = protoFields(bytes)?.filter((f) => f.field === 7 && f.wireType === 2);
  if (!graphs || graphs.length !== 1) return undefined;
  const [graph] = graphs;
  return {
    head: [bytes.subarray(0, graph.start)],
    graph: [bytes.subarray(graph.content, graph.end)],
    tail: [bytes.subarray(graph.end)],
  };
}

/** Approximate encoded size of a tensor's data, to cut initializers into slices of similar cost. */
function dataBytes(t: onnx.ITensorProto): number {
  return (
    (t.rawData?.length ?? 0) +
    4 * ((t.floatData?.length ?? 0) + (t.int32Data?.length ?? 0)) +
    8 * ((t.int64Data?.length ?? 0) + (t.doubleData?.length ?? 0) + (t.uint64Data?.length ?? 0)) +
    (t.stringData ?? []).reduce((n, s) => n + s.length, 0)
  );
}

/**
 * Encodes the model as a {@link ModelLayout}: the ModelProto without its graph, and the GraphProto as its fields
 * without nodes and initializers, then nodes and initializers in slices (each slice a GraphProto with only those:
 * concatenated, their repeated fields keep their order). Yields to the event loop every {@link SLICE_MS} ms.
 */
async function encodeInSlices(proto: onnx.ModelProto): Promise<ModelLayout> {
  let since = performance.now();
  const maybeYield = async (): Promise<void> => {
    if (performance.now() - since < SLICE_MS) return;
    await ownTurn();
    since = performance.now();
  };
  const graph = proto.graph;
  const head = encodeOnnxModel(Object.assign(new onnx.ModelProto(), proto, { graph: null }));
  if (!graph) return { head: [head], graph: [], tail: [] };
  const pieces: Uint8Array[] = [
    onnx.GraphProto.encode(Object.assign(new onnx.GraphProto(), graph, { node: [], initializer: [] })).finish(),
  ];
  const nodes = graph.node ?? [];
  for (let i = 0; i < nodes.length; i += 128) {
    await maybeYield();
    pieces.push(onnx.GraphProto.encode({ node: nodes.slice(i, i + 128) }).finish());
  }
  let slice: onnx.ITensorProto[] = [];
  let sliceBytes = 0;
  const flush = async (): Promise<void> => {
    if (slice.length === 0) return;
    await maybeYield();
    pieces.push(onnx.GraphProto.encode({ initializer: slice }).finish());
    slice = [];
    sliceBytes = 0;
  };
  for (const t of graph.initializer ?? []) {
    slice.push(t);
    sliceBytes += dataBytes(t);
    if (sliceBytes >= 1 << 22) await flush();
  }
  await flush();
  return { head: [head], graph: pieces, tail: [] };
}
