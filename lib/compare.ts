/** Plain ordinal string comparison (locale-independent, deterministic): the one every sort of names uses. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
