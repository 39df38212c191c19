export function unicode() {
  throw new Error('unicode path failed');
}
