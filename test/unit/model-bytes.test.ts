/**
 * Models decoded in slices (lib/onnx/protobuf.ts): the same as one ModelProto.decode. The calibration model's bytes
 * without encoding the model again (lib/backends/builtin/model-bytes.ts): outputs spliced into the file's bytes, or a
 * model encoded in slices where there are no such bytes. Both must decode to
 * exactly the model with the outputs appended, the way the calibration pass used to build it (a deep copy with
 * ValueInfoProtos pushed onto graph.output). That ONNX Runtime calibrates the same from them is tested end to end
 * (the caches of test/e2e/calibrate.test.ts and derived-tensors.test.ts).
 */
import * as fs from 'node:fs';
import { onnx } from 'onnx-proto';
import {
  concatBytes,
  modelLayout,
  splitAtGraph,
  withGraphOutputs,
  type ModelLayout,
} from '../../lib/backends/builtin/model-bytes';
import { decodeOnnxModel } from '../../lib/onnx/model';
import { decodeModelProto, protoFields } from '../../lib/onnx/protobuf';
import { CLASSIFIER, DETECTOR } from '../helpers/models';
import { buildModel, encodeModel, floatTensor, node, valueInfo } from '../helpers/onnx-builder';

/** The model decoded from `bytes`, as plain JSON-like data (bytes as base64). */
const plain = (bytes: Uint8Array) => onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), { bytes: String });

/** What the pass built before: a deep copy with the outputs pushed, encoded. */
function expected(bytes: Uint8Array, outputs: readonly string[]) {
  const copy = onnx.ModelProto.decode(bytes);
  for (const name of outputs) copy.graph?.output?.push(onnx.ValueInfoProto.create({ name }));
  return plain(onnx.ModelProto.encode(copy).finish());
}

/** Activations of the model's graph, in order (what the pass adds as outputs). */
const activations = (bytes: Uint8Array): string[] =>
  (onnx.ModelProto.decode(bytes).graph?.node ?? [])
    .filter((n) => n.opType !== 'Constant')
    .flatMap((n) => (n.output ?? []).map((o) => o ?? ''));

/** A model with `count` initializers and a chain of Add nodes, big enough for several slices when `count` is large. */
function chain(count: number, values: number) {
  return buildModel({
    inputs: [valueInfo('x', ['N', values])],
    outputs: [valueInfo(`a${count - 1}`, ['N', values])],
    initializers: Array.from({ length: count }, (_, i) =>
      floatTensor(
        `w${i}`,
        [values],
        Float32Array.from({ length: values }, (_, k) => i + k / values),
      ),
    ),
    nodes: Array.from({ length: count }, (_, i) => node('Add', [i === 0 ? 'x' : `a${i - 1}`, `w${i}`], [`a${i}`])),
  });
}

describe('models decoded in slices', () => {
  it('decode to what one ModelProto.decode gives: the PaddleOCR models, a model with initializers', async () => {
    for (const bytes of [fs.readFileSync(CLASSIFIER), fs.readFileSync(DETECTOR), encodeModel(chain(300, 16))]) {
      const sliced = await decodeModelProto(bytes);
      expect(sliced).toBeInstanceOf(onnx.ModelProto);
      expect(onnx.ModelProto.toObject(sliced, { bytes: String })).toEqual(plain(bytes));
    }
  });

  it('read fields one by one only from well-formed bytes, and decode anything else in one call', async () => {
    const bytes = encodeModel(chain(3, 4));
    expect(protoFields(bytes)?.map((f) => f.field)).toEqual([1, 2, 7, 8]);
    expect(protoFields(bytes.subarray(0, bytes.length - 1))).toBeUndefined();
    expect(protoFields(Uint8Array.of(0x0b, 0x0c))).toBeUndefined(); // a group (wire types 3 and 4)
    await expect(decodeModelProto(bytes.subarray(0, bytes.length - 1))).rejects.toThrow(RangeError);
  });
});

describe('calibration model bytes', () => {
  it("splices outputs into the file's bytes of a real model: one graph field, decoding to the edited model", async () => {
    const bytes = new Uint8Array(fs.readFileSync(CLASSIFIER));
    const model = await decodeOnnxModel(bytes, { path: CLASSIFIER });
    expect(model.bytes).toBe(bytes);
    const layout = await modelLayout(model);
    // Views into the file, not copies.
    for (const piece of [...layout.head, ...layout.graph, ...layout.tail]) expect(piece.buffer).toBe(bytes.buffer);
    const outputs = activations(bytes);
    const pieces = withGraphOutputs(layout, outputs);
    expect(plain(concatBytes(pieces))).toEqual(expected(bytes, outputs));
    expect(plain(concatBytes(withGraphOutputs(layout, [])))).toEqual(plain(bytes));
  });

  it('encodes a model without its bytes in slices (nodes, then initializers), decoding to the same edited model', async () => {
    // 200 nodes and 200 initializers of 32 KiB: two slices of each kind, after the rest of the graph.
    const bytes = encodeModel(chain(200, 8 * 1024));
    const layout = await modelLayout({ proto: onnx.ModelProto.decode(bytes), externalDataFiles: [] });
    expect(layout.graph.length).toBe(5);
    const outputs = activations(bytes).filter((name) => name !== 'a199');
    expect(plain(concatBytes(withGraphOutputs(layout, outputs)))).toEqual(expected(bytes, outputs));
  }, 60000);

  it('leaves bytes it cannot split to the encoder: two graph fields, truncated bytes, no graph', async () => {
    const bytes = encodeModel(chain(3, 4));
    // Two graph fields are a valid encoding that protobuf merges, but onnx-proto (protobufjs) keeps only the last:
    // this is why the splice rewrites the one graph field instead of appending another.
    const twoGraphs = concatBytes([bytes, onnx.ModelProto.encode({ graph: { output: [{ name: 'a0' }] } }).finish()]);
    expect(onnx.ModelProto.decode(twoGraphs).graph?.node).toEqual([]);
    expect(splitAtGraph(bytes)).toBeDefined();
    expect(splitAtGraph(twoGraphs)).toBeUndefined();
    expect(splitAtGraph(bytes.subarray(0, bytes.length - 3))).toBeUndefined();
    expect(splitAtGraph(onnx.ModelProto.encode({ irVersion: 8 }).finish())).toBeUndefined();
    // Bytes that cannot be split: the proto is encoded instead.
    const model = { proto: onnx.ModelProto.decode(bytes), bytes: twoGraphs, externalDataFiles: [] };
    expect(plain(concatBytes(withGraphOutputs(await modelLayout(model), ['a1'])))).toEqual(expected(bytes, ['a1']));
  });

  it("refuses a model past protobuf's 2 GiB limit with ERR_MODEL", () => {
    const huge = { length: 2 ** 31 } as Uint8Array;
    const layout: ModelLayout = { head: [], graph: [huge], tail: [] };
    expect(() => withGraphOutputs(layout, ['y'])).toThrow(
      expect.objectContaining({ code: 'ERR_MODEL', message: expect.stringContaining("protobuf's 2 GiB limit") }),
    );
  });
});
