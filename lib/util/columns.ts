/** Text tables for the CLI: cells laid out in aligned columns. */

/** How {@link formatColumns} aligns a column: text left, numbers right. */
export type ColumnAlign = 'left' | 'right';

/**
 * Lays rows of cells out as columns: each column as wide as its widest cell (the header row included, measured in
 * code points), two spaces between columns, `indent` before each line and no trailing spaces. Returns the lines.
 */
export function formatColumns(
  rows: readonly (readonly string[])[],
  align: readonly ColumnAlign[],
  indent = '',
): string[] {
  const length = (s: string): number => [...s].length;
  const widths = align.map((_, i) => rows.reduce((w, r) => Math.max(w, length(r[i] ?? '')), 0));
  return rows.map((r) => {
    const cells = align.map((a, i) => {
      const cell = r[i] ?? '';
      const pad = ' '.repeat(widths[i] - length(cell));
      return a === 'right' ? pad + cell : cell + pad;
    });
    return `${indent}${cells.join('  ')}`.trimEnd();
  });
}
