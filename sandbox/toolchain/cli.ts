/** `npm run toolchain`: installs (or finds cached) every binary the sandbox needs. */
import { cacheDir, ensureToolchain, ToolchainError } from './index';

async function main(): Promise<void> {
  const started = Date.now();
  const tools = await ensureToolchain((line) => console.error(`toolchain: ${line}`));
  const seconds = (Date.now() - started) / 1000;
  console.error(`toolchain: ready in ${seconds.toFixed(1)} s (cache: ${cacheDir()})`);
  if (process.argv.includes('--json')) console.log(JSON.stringify({ seconds, tools }, null, 2));
}

main().catch((err: unknown) => {
  console.error(`toolchain: ${err instanceof ToolchainError ? err.message : String(err)}`);
  process.exit(1);
});
