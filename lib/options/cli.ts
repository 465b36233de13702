/**
 * The CLI side of the option tables: each option with a `cli` flag becomes a commander option (help text and
 * choices from its spec), and the parsed flags become API option values through the spec's own parser, so a flag
 * and its API option cannot disagree about names, values or defaults.
 */
import { Command, Option } from 'commander';
import type { AnySpec, OptionTable } from './spec';

type TableSpec = AnySpec & { table?: OptionTable; kind?: 'nested' | 'record' };

function describeDefault(spec: AnySpec): string {
  if (spec.defaultText !== undefined) return `; default ${spec.defaultText}`;
  if (spec.default === undefined || typeof spec.default === 'boolean') return '';
  return `; default ${Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default)}`;
}

/** The commander option of a spec (its flag, help, default in the help text, choices). */
export function commanderOption(spec: AnySpec): Option {
  if (!spec.cli) throw new Error(`option without a CLI flag: ${spec.help}`);
  // Choices are listed in the help but checked by the spec's parser, so a bad value gets the same
  // ERR_INVALID_OPTION message (naming the flag) as any other.
  const choices = spec.choices ? ` (${spec.choices.join(' | ')})` : '';
  const option = new Option(spec.cli.flag, `${spec.help}${choices}${describeDefault(spec)}`);
  if (spec.cli.repeatable) option.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
  return option;
}

/** Adds the flags of `table` (all of them, or only `keys`) to a command; nested tables add their own flags. */
export function addFlags(cmd: Command, table: OptionTable, keys?: readonly string[]): Command {
  for (const [key, spec] of Object.entries(table) as Array<[string, TableSpec]>) {
    if (keys && !keys.includes(key)) continue;
    if (spec.kind === 'nested' && spec.table) addFlags(cmd, spec.table);
    else if (spec.cli) cmd.addOption(commanderOption(spec));
  }
  return cmd;
}

/** The attribute commander stores a flag's value under (`--pad-value` → `padValue`, `--no-progress` → `progress`). */
export function attributeOf(spec: AnySpec): string {
  return new Option(spec.cli!.flag).attributeName();
}

/** The flag's name without its value placeholder: `'--batch'`. */
export function flagName(spec: AnySpec): string {
  return spec.cli!.flag.split(/[ ,<[]/)[0];
}

/**
 * Turns the flags commander parsed into API option values for `table` (only the flags that were given): each text
 * goes through its spec's parser, which names the flag in its errors. Switches are true, `--no-x` switches false;
 * a nested table's flags become one nested object. Repeatable flags give an array of their texts for the caller.
 */
export function readFlags(
  table: OptionTable,
  parsed: Readonly<Record<string, unknown>>,
  keys?: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table) as Array<[string, TableSpec]>) {
    if (keys && !keys.includes(key)) continue;
    if (spec.kind === 'nested' && spec.table) {
      const inner = readFlags(spec.table, parsed);
      if (Object.keys(inner).length > 0) out[key] = inner;
      continue;
    }
    if (!spec.cli) continue;
    const value = parsed[attributeOf(spec)];
    if (value === undefined) continue;
    if (spec.cli.repeatable) out[key] = value;
    else if (typeof value === 'boolean') {
      // `--overwrite` gives true; `--no-progress` gives false, and commander sets true when it was not given.
      const negated = flagName(spec).startsWith('--no-');
      if (negated ? value === false : value === true) out[key] = value;
    } else out[key] = spec.parse ? spec.parse(String(value), flagName(spec)) : value;
  }
  return out;
}
