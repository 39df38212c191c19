// A module whose URL needs percent escapes (a space and a non-ASCII name).
export function spaced() {
  throw new Error('spaced failed');
}
