/**
 * A JSON reader that keeps object key order and key positions. `JSON.parse` puts integer-like keys first
 * (`{"input.1": …, "1": …}` enumerates "1" first) and keeps the last of duplicate keys silently; tensor names
 * such as `1`, `2`, `input.1` are common in ONNX exports, so cache order and duplicate detection need this.
 * Input is validated by `JSON.parse` first, so this scanner only ever sees well-formed JSON.
 */
import { TrtCalibratorError } from '../errors';

/** An object with its keys in document order (duplicates kept) and each key's 1-based line. */
export class OrderedObject {
  /** Keys in document order. */
  readonly keys: string[] = [];
  /** Values, parallel to {@link OrderedObject.keys}. */
  readonly values: unknown[] = [];
  /** 1-based line of each key, parallel to {@link OrderedObject.keys}. */
  readonly lines: number[] = [];

  /** The value of the first `key`, or undefined. */
  get(key: string): unknown {
    const i = this.keys.indexOf(key);
    return i < 0 ? undefined : this.values[i];
  }
}

/** Parses JSON text; objects become {@link OrderedObject}. Throws ERR_CACHE_FORMAT with file and line. */
export function parseOrderedJson(text: string, file?: string): unknown {
  try {
    JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const pos = /position (\d+)/.exec(message);
    const line = pos ? lineAt(text, Number(pos[1])) : undefined;
    const where = `${file === undefined ? 'JSON' : file}${line === undefined ? '' : ` line ${line}`}`;
    throw new TrtCalibratorError('ERR_CACHE_FORMAT', `Invalid JSON in ${where}: ${message}`, {
      cause: err,
      details: { ...(file === undefined ? {} : { file }), ...(line === undefined ? {} : { line }), reason: message },
    });
  }
  let i = 0;
  let line = 1;
  const ws = (): void => {
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x0a) line++;
      else if (c !== 0x20 && c !== 0x09 && c !== 0x0d) break;
    }
  };
  const token = (re: RegExp): string => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) throw new TrtCalibratorError('ERR_INTERNAL', `JSON scanner out of step at offset ${i}`);
    i = re.lastIndex;
    return m[0];
  };
  const STRING = /"(?:[^"\\]|\\.)*"/y;
  const SCALAR = /-?[0-9][0-9.eE+-]*|true|false|null/y;
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj = new OrderedObject();
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        const keyLine = line;
        obj.keys.push(JSON.parse(token(STRING)) as string);
        obj.lines.push(keyLine);
        ws();
        i++; // ':'
        obj.values.push(value());
        ws();
        if (text[i++] === '}') return obj;
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i++] === ']') return arr;
      }
    }
    if (c === '"') return JSON.parse(token(STRING)) as string;
    return JSON.parse(token(SCALAR)) as unknown;
  };
  return value();
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 0x0a) line++;
  return line;
}
