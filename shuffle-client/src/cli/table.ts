// Aligned text tables: a header row, columns two spaces apart, numbers and
// sizes right-aligned so their digits line up.

export interface Column<Row> {
  header: string;
  cell: (row: Row) => string;
  /** Right-align (numbers, sizes, durations). */
  right?: boolean;
}

export function renderTable<Row>(columns: ReadonlyArray<Column<Row>>, rows: readonly Row[]): string {
  const cells = rows.map((r) => columns.map((c) => c.cell(r)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: readonly string[]): string =>
    vals.map((v, i) => (columns[i]!.right === true ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return `${[line(columns.map((c) => c.header)), ...cells.map(line)].join('\n')}\n`;
}
