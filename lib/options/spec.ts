/**
 * Option declarations: every option of the API and the CLI is declared once, as an {@link OptionSpec} in a table
 * (lib/options/*.ts), and everything else derives from that table:
 *   - the TypeScript option types ({@link OptionsOf}: the interfaces of the public API extend it, and the TSDoc
 *     comment on a table entry is the option's documentation);
 *   - validation ({@link validateOptions}: unknown names with a spelling hint, wrong types, wrong values, all before
 *     any work starts) and static defaults ({@link resolveOptions});
 *   - the CLI flags, their help and their parsing (lib/options/cli.ts);
 *   - the README's option tables (scripts/options-tables.js, checked by a test).
 *
 * A spec knows how to check a value given through the API (`check`) and, when it has a CLI flag, how to parse the
 * flag's text (`parse`). Both name the option in their errors the way the caller spells it: `batchSize` for the API,
 * `--batch` for the CLI.
 */
import { invalidOption, rejectUnknownOptions, type InvalidOptionError } from '../errors';

/** The CLI side of an option: its flag (`'--batch <N>'`, `'--overwrite'`, `'--no-progress'`). */
export interface CliFlag {
  /** Commander flag syntax: long flag with a value placeholder, or a bare switch. */
  readonly flag: string;
  /** Repeatable flag (`--input a --input b`): the values are collected in order. Defaults to false. */
  readonly repeatable?: boolean;
}

/**
 * One option. `In` is the type the API accepts, `Out` the checked (normalized) value, `HasDefault` whether a static
 * default exists (then the resolved value is never undefined).
 */
export interface OptionSpec<In, Out = In, HasDefault extends boolean = boolean> {
  /** What a valid value is, for messages and docs: `'a positive integer'`, `'one of bgr, rgb, gray'`. */
  readonly expected: string;
  /** One line of help (CLI help, README table). */
  readonly help: string;
  /** The allowed values of a choice option. */
  readonly choices?: readonly string[];
  /** The static default, applied by {@link resolveOptions}. */
  readonly default?: Out;
  /** The default as docs show it, when it is not a static value (`'one per 4 cores, 1 to 4'`). */
  readonly defaultText?: string;
  /** The CLI flag; absent for API-only options (functions, objects, signals). */
  readonly cli?: CliFlag;
  /** Checks an API value and returns it normalized; throws ERR_INVALID_OPTION naming `name`. */
  check(value: unknown, name: string): Out;
  /** Parses a CLI flag's text; throws ERR_INVALID_OPTION naming `flag`. Present when `cli` is. */
  parse?(text: string, flag: string): Out;
  /** Type marker only (never set): the API input type and whether a default exists. */
  readonly __in?: In;
  readonly __hasDefault?: HasDefault;
}

/** Any option spec. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySpec = OptionSpec<any, any, boolean>;

/** A table of options by name. */
export type OptionTable = Readonly<Record<string, AnySpec>>;

/** The API option type of a table: every option optional, typed as its spec accepts it. */
export type OptionsOf<T extends OptionTable> = {
  -readonly [K in keyof T]?: T[K] extends OptionSpec<infer In, infer _Out, infer _D> ? In : never;
};

/** The checked options of a table: normalized values; those with a static default are always present. */
export type ResolvedOf<T extends OptionTable> = {
  -readonly [K in keyof T as T[K] extends OptionSpec<unknown, unknown, true> ? K : never]: T[K] extends OptionSpec<
    infer _In,
    infer Out,
    true
  >
    ? Out
    : never;
} & {
  -readonly [K in keyof T as T[K] extends OptionSpec<unknown, unknown, true> ? never : K]?: T[K] extends OptionSpec<
    infer _In,
    infer Out,
    infer _D
  >
    ? Out
    : never;
};

/** Fields every spec builder takes. */
export interface SpecBase<Out> {
  /** One line of help (CLI help, README table). */
  help: string;
  /** The static default. */
  default?: Out;
  /** The default as docs show it, when it is computed at run time. */
  defaultText?: string;
  /** The CLI flag, e.g. `'--batch <N>'`. Defaults to none (API only). */
  cli?: string | CliFlag;
}

type WithDefault<B> = B extends { default: unknown } ? true : false;

function flagOf(cli: string | CliFlag | undefined): CliFlag | undefined {
  return typeof cli === 'string' ? { flag: cli } : cli;
}

function make<In, Out, B extends SpecBase<Out>>(
  base: B,
  expected: string,
  check: (value: unknown, name: string) => Out,
  parse?: (text: string, flag: string) => Out,
  extra: { choices?: readonly string[] } = {},
): OptionSpec<In, Out, WithDefault<B>> {
  const cli = flagOf(base.cli);
  return {
    expected,
    help: base.help,
    ...(base.default !== undefined ? { default: base.default } : {}),
    ...(base.defaultText !== undefined ? { defaultText: base.defaultText } : {}),
    ...(cli ? { cli } : {}),
    ...extra,
    check,
    ...(cli && parse ? { parse } : {}),
  } as OptionSpec<In, Out, WithDefault<B>>;
}

/** Parses a CLI number (`'8'`, `'0.5'`, `'1e-3'`); throws ERR_INVALID_OPTION naming the flag. */
export function parseNumberText(text: string, flag: string, expected = 'a number'): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw invalidOption(flag, expected, text, 'range');
  return v;
}

/** An integer in [min, max]. */
export function integer<const B extends SpecBase<number> & { min?: number; max?: number }>(
  base: B,
): OptionSpec<number, number, WithDefault<B>> {
  const min = base.min ?? Number.MIN_SAFE_INTEGER;
  const max = base.max ?? Number.MAX_SAFE_INTEGER;
  const expected =
    base.max === undefined
      ? base.min === undefined
        ? 'an integer'
        : `an integer >= ${min}`
      : `an integer in ${min}..${max}`;
  const check = (value: unknown, name: string): number => {
    if (typeof value !== 'number') throw invalidOption(name, expected, value);
    if (!Number.isInteger(value) || value < min || value > max) throw invalidOption(name, expected, value, 'range');
    return value;
  };
  return make(base, expected, check, (text, flag) => check(parseNumberText(text, flag, expected), flag));
}

/** A finite number, optionally bounded (`gt`/`lt` exclusive, `min`/`max` inclusive). */
export function number<
  const B extends SpecBase<number> & { min?: number; max?: number; gt?: number; lt?: number; expected?: string },
>(base: B): OptionSpec<number, number, WithDefault<B>> {
  const parts: string[] = [];
  if (base.gt !== undefined) parts.push(`> ${base.gt}`);
  if (base.min !== undefined) parts.push(`>= ${base.min}`);
  if (base.lt !== undefined) parts.push(`< ${base.lt}`);
  if (base.max !== undefined) parts.push(`<= ${base.max}`);
  const expected = base.expected ?? (parts.length ? `a number ${parts.join(' and ')}` : 'a finite number');
  const check = (value: unknown, name: string): number => {
    if (typeof value !== 'number') throw invalidOption(name, expected, value);
    const bad =
      !Number.isFinite(value) ||
      (base.gt !== undefined && !(value > base.gt)) ||
      (base.min !== undefined && !(value >= base.min)) ||
      (base.lt !== undefined && !(value < base.lt)) ||
      (base.max !== undefined && !(value <= base.max));
    if (bad) throw invalidOption(name, expected, value, 'range');
    return value;
  };
  return make(base, expected, check, (text, flag) => check(parseNumberText(text, flag, expected), flag));
}

/** One of a fixed set of strings. */
export function oneOf<const V extends readonly string[], const B extends SpecBase<V[number]>>(
  values: V,
  base: B,
): OptionSpec<V[number], V[number], WithDefault<B>> {
  const expected = `one of ${values.join(', ')}`;
  const check = (value: unknown, name: string): V[number] => {
    if (typeof value !== 'string') throw invalidOption(name, expected, value);
    if (!values.includes(value)) throw invalidOption(name, expected, value, 'range');
    return value as V[number];
  };
  return make(base, expected, check, check, { choices: values });
}

/** true or false; on the CLI a switch (`--overwrite`) or, for a default of true, its negation (`--no-progress`). */
export function boolean<const B extends SpecBase<boolean>>(base: B): OptionSpec<boolean, boolean, WithDefault<B>> {
  const check = (value: unknown, name: string): boolean => {
    if (typeof value !== 'boolean') throw invalidOption(name, 'a boolean', value);
    return value;
  };
  return make(base, 'a boolean', check, () => true);
}

/** A non-empty string (a path, a name). */
export function text<const B extends SpecBase<string> & { expected?: string }>(
  base: B,
): OptionSpec<string, string, WithDefault<B>> {
  const expected = base.expected ?? 'a non-empty string';
  const check = (value: unknown, name: string): string => {
    if (typeof value !== 'string') throw invalidOption(name, expected, value);
    if (value === '' || value.includes('\0')) throw invalidOption(name, expected, value, 'range');
    return value;
  };
  return make(base, expected, check, check);
}

/** A file or directory path. */
export function filePath<const B extends SpecBase<string> & { expected?: string }>(
  base: B,
): OptionSpec<string, string, WithDefault<B>> {
  return text({ expected: 'a file path', ...base });
}

/** One number or one per channel; on the CLI `0.5` or `0.485,0.456,0.406`. */
export function perChannel<
  const B extends SpecBase<number | readonly number[]> & { min?: number; max?: number; nonZero?: boolean },
>(base: B): OptionSpec<number | readonly number[], number | readonly number[], WithDefault<B>> {
  const what =
    base.nonZero === true
      ? 'a non-zero finite number'
      : base.min !== undefined && base.max !== undefined
        ? `a number in ${base.min}..${base.max}`
        : 'a finite number';
  const expected = `${what}, or one per channel`;
  const ok = (v: unknown): boolean =>
    typeof v === 'number' &&
    Number.isFinite(v) &&
    !(base.nonZero === true && v === 0) &&
    !(base.min !== undefined && v < base.min) &&
    !(base.max !== undefined && v > base.max);
  const check = (value: unknown, name: string): number | readonly number[] => {
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0 || list.some((v) => typeof v !== 'number')) throw invalidOption(name, expected, value);
    if (!list.every(ok)) throw invalidOption(name, expected, value, 'range');
    return Array.isArray(value) ? [...(value as number[])] : (value as number);
  };
  const parse = (t: string, flag: string): number | readonly number[] => {
    const parts = t.split(',').map((p) => parseNumberText(p, flag, expected));
    return check(parts.length === 1 ? parts[0] : parts, flag);
  };
  return make(base, expected, check, parse);
}

/** A per-image shape `[C, H, W]` of positive integers; on the CLI `CxHxW`. */
export function imageShape<const B extends SpecBase<number[]>>(
  base: B,
): OptionSpec<readonly number[], number[], WithDefault<B>> {
  const expected = 'a per-image shape [C, H, W] of positive integers';
  const check = (value: unknown, name: string): number[] => {
    if (!Array.isArray(value)) throw invalidOption(name, expected, value);
    if (value.length !== 3 || !value.every((d) => Number.isInteger(d) && d > 0 && d <= 65536))
      throw invalidOption(name, expected, value, 'range');
    return [...(value as number[])];
  };
  const parse = (t: string, flag: string): number[] => {
    const m = /^\s*(\d+)x(\d+)x(\d+)\s*$/.exec(t);
    if (!m) throw invalidOption(flag, 'a shape CxHxW like 3x224x224', t, 'range');
    return check([Number(m[1]), Number(m[2]), Number(m[3])], flag);
  };
  return make(base, expected, check, parse);
}

/** A count or a percentage string like `'1%'`. */
export function countOrPercent<const B extends SpecBase<number | string>>(
  base: B,
): OptionSpec<number | string, number | string, WithDefault<B>> {
  const expected = 'a count or a percentage like "1%"';
  const check = (value: unknown, name: string): number | string => {
    if (typeof value === 'number') {
      if (!Number.isInteger(value) || value < 0) throw invalidOption(name, expected, value, 'range');
      return value;
    }
    if (typeof value !== 'string') throw invalidOption(name, expected, value);
    if (!/^\d+(\.\d+)?%$/.test(value) || parseFloat(value) > 100) throw invalidOption(name, expected, value, 'range');
    return value;
  };
  const parse = (t: string, flag: string): number | string =>
    check(/^\d+$/.test(t.trim()) ? Number(t.trim()) : t.trim(), flag);
  return make(base, expected, check, parse);
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
};

/** Parses a byte size: a non-negative integer, or `'<n><unit>'` with B, KiB, MiB, GiB, KB, MB, GB (`'1.5GiB'`). */
export function parseByteSize(value: unknown, name: string): number {
  const expected = "a number of bytes or a size such as '256MiB' or '2GiB'";
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw invalidOption(name, expected, value, 'range');
    return value;
  }
  if (typeof value !== 'string') throw invalidOption(name, expected, value);
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$/.exec(value);
  if (!m) throw invalidOption(name, expected, value, 'range');
  return Math.round(Number(m[1]) * BYTE_UNITS[m[2] ?? 'B']);
}

/** A byte size: bytes as a number, or a string such as `'256MiB'`; normalized to a number of bytes. */
export function byteSize<const B extends SpecBase<number>>(
  base: B,
): OptionSpec<number | string, number, WithDefault<B>> {
  return make(base, "a number of bytes or a size such as '256MiB' or '2GiB'", parseByteSize, parseByteSize);
}

/** A function (callbacks); API only. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function callback<F extends (...args: any[]) => unknown>(base: SpecBase<F>): OptionSpec<F, F, false> {
  return make(base, 'a function', (value, name) => {
    if (typeof value !== 'function') throw invalidOption(name, 'a function', value);
    return value as F;
  });
}

/**
 * Any value accepted by a custom check (objects, class instances, unions); API only unless `parse` is given. `D` says
 * whether `default` is given (then the resolved value is never undefined).
 */
export function custom<In, Out = In, D extends boolean = false>(
  base: SpecBase<Out> & {
    expected: string;
    check: (value: unknown, name: string) => Out;
    parse?: (text: string, flag: string) => Out;
    choices?: readonly string[];
  } & (D extends true ? { default: Out } : unknown),
): OptionSpec<In, Out, D> {
  return make(base, base.expected, base.check, base.parse, base.choices ? { choices: base.choices } : {}) as OptionSpec<
    In,
    Out,
    D
  >;
}

/** An instance of a class; API only. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function instance<T>(ctor: abstract new (...args: any[]) => T, base: SpecBase<T> & { expected: string }) {
  return custom<T>({
    ...base,
    check: (value, name) => {
      if (!(value instanceof ctor)) throw invalidOption(name, base.expected, value);
      return value;
    },
  });
}

/**
 * Checks `options` against `table`: refuses unknown names (with a spelling hint) and checks every value that is
 * not undefined. Returns the normalized values (no defaults applied). `where` names the caller in the
 * unknown-option message (`'calibrate()'`); `prefix` is prepended to option names in errors (`'inputs.image.'`).
 */
export function validateOptions<T extends OptionTable>(
  table: T,
  options: unknown,
  where: string,
  prefix = '',
): Partial<ResolvedOf<T>> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw invalidOption(prefix ? prefix.replace(/\.$/, '') : 'options', 'an object', options);
  rejectUnknownOptions(where, options, Object.keys(table), prefix);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    out[key] = table[key].check(value, prefix + key);
  }
  return out as Partial<ResolvedOf<T>>;
}

/**
 * {@link validateOptions}, then the static defaults of the table for what was not given (but the `keepUnset` keys,
 * whose defaults a later step applies: preprocessing under a preset).
 */
export function resolveOptions<T extends OptionTable>(
  table: T,
  options: unknown,
  where: string,
  prefix = '',
  keepUnset: readonly string[] = [],
): ResolvedOf<T> {
  const checked = validateOptions(table, options, where, prefix) as Record<string, unknown>;
  for (const [key, spec] of Object.entries(table)) {
    if (checked[key] === undefined && spec.default !== undefined && !keepUnset.includes(key))
      checked[key] = spec.default;
  }
  return checked as ResolvedOf<T>;
}

/** Picks some options of a table, keeping their specs (tables are plain objects). */
export function pick<T extends OptionTable, K extends keyof T>(table: T, ...keys: K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) out[k] = table[k];
  return out;
}

/** True when `err` is an option error of this module (TypeError/RangeError with code ERR_INVALID_OPTION). */
export function isInvalidOption(err: unknown): err is InvalidOptionError {
  return (err as { code?: unknown } | null)?.code === 'ERR_INVALID_OPTION';
}

/**
 * A nested options object with its own table (`tensorrtBuild: { fp16, workspace }`): checked with the table (the
 * nested names in errors: `tensorrtBuild.workspace`), resolved with its defaults. On the CLI its options are flags
 * of their own (`--fp16`, `--workspace <size>`).
 */
export function nested<const T extends OptionTable>(
  table: T,
  base: SpecBase<ResolvedOf<T>> & { where: string },
): OptionSpec<OptionsOf<T>, ResolvedOf<T>, false> & { readonly table: T; readonly kind: 'nested' } {
  const spec = make<OptionsOf<T>, ResolvedOf<T>, SpecBase<ResolvedOf<T>>>(base, 'an object', (value, name) =>
    resolveOptions(table, value, base.where, `${name}.`),
  );
  return { ...spec, table, kind: 'nested' };
}

/**
 * An object keyed by names the caller chooses (`inputs: { image: {...}, mask: {...} }`), each value checked with
 * `table`; errors name `inputs.image.scale`.
 */
export function record<const T extends OptionTable>(
  table: T,
  base: SpecBase<Record<string, Partial<ResolvedOf<T>>>> & { where: string; keyName: string; cli?: string | CliFlag },
): OptionSpec<Readonly<Record<string, OptionsOf<T>>>, Record<string, Partial<ResolvedOf<T>>>, false> & {
  readonly table: T;
  readonly kind: 'record';
} {
  const expected = `an object keyed by ${base.keyName}`;
  const spec = make<Readonly<Record<string, OptionsOf<T>>>, Record<string, Partial<ResolvedOf<T>>>, typeof base>(
    base,
    expected,
    (value, name) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw invalidOption(name, expected, value);
      const out: Record<string, Partial<ResolvedOf<T>>> = {};
      for (const [key, item] of Object.entries(value))
        out[key] = validateOptions(table, item, base.where, `${name}.${key}.`);
      return out;
    },
  );
  return { ...spec, table, kind: 'record' };
}

/** `T` with the keys `K` required (the other keys keep their optionality); the docs of each key are kept. */
export type Requiring<T, K extends keyof T> = { [P in keyof T as P extends K ? P : never]-?: T[P] } & {
  [P in keyof T as P extends K ? never : P]: T[P];
};
