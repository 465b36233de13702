/**
 * One voice per caller: messages name options the way the caller spells them. A program calling the API reads
 * `batchSize` and `shape: [3, 320, 320]`; a CLI user reads `--batch` and `--shape 3x320x320`. The CLI runs its
 * command inside {@link withVoice}('cli', ...); code that builds a message calls {@link mention} or
 * {@link optionLabel}, which look the flag up in the option tables.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { InvalidOptionError } from '../errors';
import type { AnySpec, OptionTable } from './spec';

/** Who is being spoken to. */
export type Voice = 'api' | 'cli';

const storage = new AsyncLocalStorage<Voice>();
const flags = new Map<string, string>();

/** Registers the CLI flags of a table (done once by lib/options/index.ts for every table). */
export function registerFlags(table: OptionTable, prefix = ''): void {
  for (const [key, spec] of Object.entries(table) as Array<
    [string, AnySpec & { table?: OptionTable; kind?: string }]
  >) {
    if (spec.cli && !flags.has(prefix + key)) flags.set(prefix + key, spec.cli.flag.split(/[ ,<[]/)[0]);
    // Nested tables: `tensorrtBuild.workspace` is `--workspace` on the CLI.
    if (spec.kind === 'nested' && spec.table) registerFlags(spec.table, `${key}.`);
  }
}

/** Runs `fn` (and everything it starts asynchronously) speaking to `voice`. */
export function withVoice<T>(voice: Voice, fn: () => T): T {
  return storage.run(voice, fn);
}

/** The voice of the current call: 'cli' inside the CLI's commands, else 'api'. */
export function currentVoice(): Voice {
  return storage.getStore() ?? 'api';
}

/** The CLI flag of an option (`'batchSize'` → `'--batch'`), or undefined when it has none. */
export function flagOf(option: string): string | undefined {
  return flags.get(option);
}

/** The option's name in the current voice: `batchSize`, or `--batch` on the CLI (the API name when no flag). */
export function optionLabel(option: string): string {
  return currentVoice() === 'cli' ? (flags.get(option) ?? option) : option;
}

/**
 * An option with an example value in the current voice: `mention('shape', { api: '[3, 320, 320]', cli: '3x320x320' })`
 * is `shape: [3, 320, 320]` for the API and `--shape 3x320x320` on the CLI; `mention('recursive', { api: 'true' })`
 * is `recursive: true` and `--recursive`.
 */
export function mention(option: string, example: { api?: string; cli?: string } = {}): string {
  if (currentVoice() === 'cli') {
    const flag = flags.get(option) ?? option;
    return example.cli !== undefined ? `${flag} ${example.cli}` : flag;
  }
  return example.api !== undefined ? `${option}: ${example.api}` : option;
}

/**
 * An option error thrown by the API, said again with CLI flags: `Expected a positive integer for batchSize but
 * received 0` becomes `... for --batch ...`. Errors about options without a flag, and other errors, come back
 * unchanged.
 */
export function inCliVoice(err: unknown): unknown {
  const e = err as Partial<InvalidOptionError> | null;
  if (!e || e.code !== 'ERR_INVALID_OPTION' || typeof e.option !== 'string') return err;
  const flag = flags.get(e.option);
  if (!flag || !(err instanceof Error)) return err;
  const message = e.message as string;
  const renamed = message
    .replace(`for ${e.option} but`, `for ${flag} but`)
    .replace(`Unknown option "${e.option}"`, `Unknown option "${flag}"`);
  const copy = new (err.constructor as new (m: string) => Error)(renamed) as InvalidOptionError;
  copy.code = 'ERR_INVALID_OPTION';
  copy.option = flag;
  if (e.expected !== undefined) copy.expected = e.expected;
  if (e.received !== undefined) copy.received = e.received;
  copy.stack = err.stack?.replace(message, renamed);
  return copy;
}
