/**
 * Reading an encoded model a field at a time, so that the JS thread can decode it in slices and the calibration model
 * can be spliced together from the file's bytes (lib/backends/builtin/model-bytes.ts). A protobuf message is a
 * sequence of fields, each a key (field number and wire type) and a value; a repeated field's elements come as
 * separate fields, in order, and a message decoded from a concatenation of such sequences is the same as one decoded
 * from them all at once. onnx.proto uses no groups.
 */
import { onnx } from 'onnx-proto';
import { ownTurn } from '../util/event-loop';

/** One field of an encoded message: where it starts, where a length-delimited value's content starts, and its end. */
export interface ProtoField {
  readonly field: number;
  readonly wireType: number;
  readonly start: number;
  /** For wire type 2 (length-delimited): the first byte of the content; else the first byte of the value. */
  readonly content: number;
  readonly end: number;
}

/** The top-level fields of an encoded message, or undefined when the bytes are not a well-formed message. */
export function protoFields(bytes: Uint8Array): ProtoField[] | undefined {
  const fields: ProtoField[] = [];
  // A varint at `at`: [value, position after it], or undefined past the end or beyond 2^53.
  const read = (at: number): [number, number] | undefined => {
    let value = 0;
    for (let shift = 0, p = at; p < bytes.length && shift < 53; shift += 7, p++) {
      value += (bytes[p] & 0x7f) * 2 ** shift;
      if (bytes[p] < 0x80) return [value, p + 1];
    }
    return undefined;
  };
  let pos = 0;
  while (pos < bytes.length) {
    const start = pos;
    const key = read(pos);
    if (!key || key[0] < 8) return undefined;
    const wireType = key[0] % 8;
    const field = Math.floor(key[0] / 8);
    let content = key[1];
    if (wireType === 0) {
      const value = read(content);
      if (!value) return undefined;
      pos = value[1];
    } else if (wireType === 1) {
      pos = content + 8;
    } else if (wireType === 5) {
      pos = content + 4;
    } else if (wireType === 2) {
      const length = read(content);
      if (!length) return undefined;
      content = length[1];
      pos = content + length[0];
    } else {
      return undefined;
    }
    if (pos > bytes.length) return undefined;
    fields.push({ field, wireType, start, content, end: pos });
  }
  return fields;
}

/** ModelProto.graph and GraphProto's node and initializer field numbers (onnx.proto). */
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
/** The JS thread yields to the event loop after this much decoding. */
const SLICE_MS = 4;

/**
 * `onnx.ModelProto.decode(bytes)`, with the graph's nodes and initializers decoded a few at a time and the event
 * loop served every few ms in between: the PaddleOCR detector (4.7 MB, 672 nodes) takes 5-15 ms to decode on a
 * loaded 2-core machine, a larger model proportionally more. Bytes whose fields cannot be read one by one (or that
 * hold the graph more than once) are decoded in one call. Throws what ModelProto.decode throws.
 */
export async function decodeModelProto(bytes: Uint8Array): Promise<onnx.ModelProto> {
  const fields = protoFields(bytes);
  const graphs = fields?.filter((f) => f.field === MODEL_GRAPH && f.wireType === 2) ?? [];
  if (!fields || graphs.length !== 1) return onnx.ModelProto.decode(bytes);
  const [graphField] = graphs;
  const graphBytes = bytes.subarray(graphField.content, graphField.end);
  const graphFields = protoFields(graphBytes);
  if (!graphFields) return onnx.ModelProto.decode(bytes);
  // Each slice in a turn of the event loop of its own, the first too (several models may be loaded at once).
  await ownTurn();
  // Everything but the graph, and the graph but its nodes and initializers: small, decoded at once.
  const model = onnx.ModelProto.decode(
    concat(
      fields.filter((f) => f !== graphField),
      bytes,
    ),
  );
  const isList = (f: ProtoField) => f.wireType === 2 && (f.field === GRAPH_NODE || f.field === GRAPH_INITIALIZER);
  const graph = onnx.GraphProto.decode(
    concat(
      graphFields.filter((f) => !isList(f)),
      graphBytes,
    ),
  );
  let since = performance.now();
  for (const f of graphFields) {
    if (!isList(f)) continue;
    if (performance.now() - since >= SLICE_MS) {
      await ownTurn();
      since = performance.now();
    }
    const value = graphBytes.subarray(f.content, f.end);
    if (f.field === GRAPH_NODE) graph.node.push(onnx.NodeProto.decode(value));
    else graph.initializer.push(onnx.TensorProto.decode(value));
  }
  model.graph = graph;
  return model;
}

/** The bytes of `fields` of `bytes`, in order, as one buffer (a view when they are contiguous). */
function concat(fields: readonly ProtoField[], bytes: Uint8Array): Uint8Array {
  const length = fields.reduce((n, f) => n + f.end - f.start, 0);
  if (fields.length > 0 && fields[fields.length - 1].end - fields[0].start === length)
    return bytes.subarray(fields[0].start, fields[0].start + length);
  const out = new Uint8Array(length);
  let offset = 0;
  for (const f of fields) {
    out.set(bytes.subarray(f.start, f.end), offset);
    offset += f.end - f.start;
  }
  return out;
}
