/**
 * Matching what a BatchFactory fills against what a network takes, by input name (never by position). The one
 * check used both before a run (against the model's declared inputs, whose dims may still be symbolic) and by the
 * calibrator run itself (against the resolved network inputs, shape and dtype included).
 */
import { TrtCalibratorError } from '../errors';
import type { InputSpec } from './factory';

/** One input on the network's side. Shape and dtype are checked only when given. */
export interface NetworkInput {
  /** The input's name. */
  readonly name: string;
  /** The concrete full shape (batch first), when known. */
  readonly shape?: readonly number[];
  /** The element type, when known. */
  readonly dtype?: string;
  /** How to show the input in messages when its shape is not concrete (e.g. `x (float [-1,3,48,-1])`). */
  readonly description?: string;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** `"image" [8,3,224,224] float32`. */
export function specText(spec: InputSpec): string {
  return `"${spec.name}" ${shapeText(spec.shape)} ${spec.dtype}`;
}

function networkText(input: NetworkInput): string {
  if (input.description !== undefined) return input.description;
  if (input.shape) return `"${input.name}" ${shapeText(input.shape)}${input.dtype ? ` ${input.dtype}` : ''}`;
  return `"${input.name}"`;
}

/**
 * Checks the factory's inputs against the network's: a fed input the network does not have, then a network input
 * nobody fills (ERR_INPUT_NAME, both naming the other side's inputs), then per input the shape (ERR_INPUT_SHAPE)
 * and dtype (ERR_INPUT_DTYPE) where the network side gives them. `model` names the network in messages (the model
 * file); without it the messages say "the network".
 */
export function matchInputs(fed: readonly InputSpec[], network: readonly NetworkInput[], model?: string): void {
  const networkNames = new Set(network.map((n) => n.name));
  const extra = fed.find((s) => !networkNames.has(s.name));
  if (extra) {
    const list = network.map(networkText).join(', ');
    throw new TrtCalibratorError(
      'ERR_INPUT_NAME',
      model !== undefined
        ? `The batch factory feeds "${extra.name}", which is not an input of ${model}; its inputs are: ${list}`
        : `The batch factory fills ${specText(extra)}, which is not a network input; the network's inputs are ${list}`,
      { details: { input: extra.name, given: extra.shape, inputs: network.map((n) => n.name) } },
    );
  }
  const byName = new Map(fed.map((s) => [s.name, s]));
  const fills = fed.map(specText).join(', ');
  for (const net of network) {
    const given = byName.get(net.name);
    if (!given) {
      throw new TrtCalibratorError(
        'ERR_INPUT_NAME',
        model !== undefined
          ? `The input ${networkText(net)} of ${model} is not filled by the batch factory; it fills ${fills}`
          : `The network input ${networkText(net)} is not filled by the batch factory; it fills ${fills}`,
        {
          details: {
            input: net.name,
            missing: network.filter((n) => !byName.has(n.name)).map((n) => n.name),
            ...(net.shape ? { expectedShape: net.shape } : {}),
            ...(net.dtype ? { expectedDtype: net.dtype } : {}),
            given: fed.map((s) => s.name),
          },
        },
      );
    }
    const facts = {
      input: net.name,
      expectedShape: net.shape,
      expectedDtype: net.dtype,
      givenShape: given.shape,
      givenDtype: given.dtype,
    };
    if (net.shape && (given.shape.length !== net.shape.length || given.shape.some((d, i) => d !== net.shape![i]))) {
      throw new TrtCalibratorError(
        'ERR_INPUT_SHAPE',
        `Input "${net.name}": the network expects ${shapeText(net.shape)} ${net.dtype ?? ''}`.trimEnd() +
          ` but the batch factory declares ${shapeText(given.shape)} ${given.dtype}`,
        { details: facts },
      );
    }
    if (net.dtype && given.dtype !== net.dtype) {
      throw new TrtCalibratorError(
        'ERR_INPUT_DTYPE',
        `Input "${net.name}": the network expects ${net.shape ? `${shapeText(net.shape)} ` : ''}${net.dtype} but the batch factory declares ${given.dtype}`,
        { details: facts },
      );
    }
  }
}
