// An ES module: V8 prints its frames as file:// URLs.
export function esmThrow() {
  throw new SyntaxError('esm failed');
}

export async function esmAsync() {
  await Promise.resolve();
  throw new Error('esm async failed');
}

export class EsmService {
  run() {
    return [1].map(() => esmThrow());
  }
}
