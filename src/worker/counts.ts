/** Add `by` to the count of `key`, dropping keys that reach zero (the map never grows with idle keys). */
export function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}
