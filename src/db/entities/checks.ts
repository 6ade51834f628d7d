/** `column IN ('a', 'b')`: the expression of a CHECK constraint over a value list of src/domain. */
export function inList(column: string, values: readonly string[]): string {
  return `${column} IN (${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ')})`;
}
