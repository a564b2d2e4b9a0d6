/**
 * Polling for the integration tests: `eventually` calls `fn` until it returns a value (not
 * undefined), for at most `timeoutMs`, and fails naming what it waited for and the last error.
 */
export async function eventually<T>(what: string | (() => string), fn: () => Promise<T | undefined>, timeoutMs = 180_000, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
