// "Did you mean" by edit distance: shared by the CLI's command and flag names and by backup paths in core/browse.ts.
// Imports nothing, so the CLI's --help path can load it without loading the rest of core.

/** Levenshtein distance, small inputs only. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest candidate within a third of the word's length (at least 2 edits), or a prefix match; undefined if none is close. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const all = [...candidates];
  const prefix = all.filter((c) => word.length >= 2 && c.startsWith(word));
  if (prefix.length === 1) return prefix[0];
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of all) {
    // Cheap bound first: the distance is at least the difference in length (paths can number in the thousands).
    if (Math.abs(c.length - word.length) >= bestDistance) continue;
    const d = editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

export const didYouMean = (word: string, candidates: Iterable<string>, show: (s: string) => string = (s) => s) => {
  const hit = closest(word, candidates);
  return hit ? ` (did you mean ${show(hit)}?)` : "";
};
