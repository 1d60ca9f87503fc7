/** "Did you mean …?" for a mistyped command or flag: the closest known word by edit distance. */

/**
 * Edit distance between `a` and `b`: insertions, deletions, substitutions and swaps of two
 * neighbouring letters (optimal string alignment), so `lsit` is one edit from `list`.
 */
export function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      row.push(d);
    }
    before = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The known word closest to `given`, when it is close enough to be a typo: at most a third of
 * its length away (at least 1, at most 3 edits), or a word `given` is a prefix of.
 */
export function closest(given: string, known: readonly string[]): string | undefined {
  let best: { word: string; distance: number } | undefined;
  for (const word of known) {
    const distance = editDistance(given, word);
    if (!best || distance < best.distance) best = { word, distance };
  }
  const limit = Math.min(3, Math.max(1, Math.floor(given.length / 3)));
  if (best && best.distance <= limit) return best.word;
  const prefixed = known.filter((w) => given.length >= 2 && w.startsWith(given));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** ` (did you mean "x"?)` or an empty string. */
export function didYouMean(given: string, known: readonly string[], render: (w: string) => string = (w) => w): string {
  const word = closest(given, known);
  return word === undefined ? '' : `; did you mean "${render(word)}"?`;
}
