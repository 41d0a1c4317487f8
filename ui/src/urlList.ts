// Lists in one URL query value (`cols=a,b`): commas and percent signs inside items are
// escaped, so the list splits back into the same items.

export function decodeList(value: string | null): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => decodeURIComponent(s))
    .filter(Boolean);
}

export function encodeList(items: string[]): string {
  return items.map((s) => s.replace(/%/g, '%25').replace(/,/g, '%2C')).join(',');
}
