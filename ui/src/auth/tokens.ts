// The token form's expiry field (pure, unit-tested): empty means never; else a whole
// number of days from 1 to 3650, as the server accepts.

export const MAX_TOKEN_DAYS = 3650;

export function parseExpiryDays(text: string): { days?: number; error?: string } {
  const t = text.trim();
  if (!t) return {};
  if (!/^\d+$/.test(t)) return { error: 'The expiry is a whole number of days.' };
  const days = Number(t);
  if (days < 1 || days > MAX_TOKEN_DAYS)
    return { error: `The expiry is between 1 and ${MAX_TOKEN_DAYS} days.` };
  return { days };
}
