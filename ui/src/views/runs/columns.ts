// The column picker's lists (pure): params, metrics and tags apart, each capped, so that
// 1,000 params never push the tags out of view; tags by how many runs carry them.

export const PICKER_GROUPS = [
  { label: 'Params', prefix: 'params.' },
  { label: 'Metrics', prefix: 'metrics.' },
  { label: 'Tags', prefix: 'tags.' },
] as const;

export interface PickerGroup {
  label: string;
  shown: string[];
  /** Matches beyond `shown`. */
  more: number;
}

/** Column ids matching `text` (case-insensitive substring), per kind, at most `perGroup`
 * each; chosen columns the loaded runs lack (from the URL) are listed too. */
export function pickerGroups(
  keys: string[],
  chosen: string[],
  text: string,
  perGroup = 100,
): PickerGroup[] {
  const all = [...new Set([...keys, ...chosen])];
  const needle = text.toLowerCase();
  return PICKER_GROUPS.map(({ label, prefix }) => {
    const matches = all.filter((k) => k.startsWith(prefix) && k.toLowerCase().includes(needle));
    return {
      label,
      shown: matches.slice(0, perGroup),
      more: Math.max(0, matches.length - perGroup),
    };
  });
}

/** Tag keys by the number of runs that carry them, most common first (ties by name),
 * without MLflow's `mlflow.` system tags. */
export function tagKeysByFrequency(runs: { data: { tags?: { key: string }[] } }[]): string[] {
  const counts = new Map<string, number>();
  for (const r of runs)
    for (const t of r.data.tags ?? [])
      if (!t.key.startsWith('mlflow.')) counts.set(t.key, (counts.get(t.key) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k]) => k);
}
