/**
 * Where the project's files are, the same whether the code runs from its TypeScript sources
 * (tsx: `<root>/sandbox/…`) or compiled (`<root>/dist/sandbox/…`, `npm start`, the image).
 */
import fs from 'node:fs';
import path from 'node:path';

/** The nearest directory at or above `from` holding a package.json: the checkout (or the image's /app). */
export function projectRoot(from: string = __dirname): string {
  for (let d = path.resolve(from); ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) return path.resolve(__dirname, '..');
  }
}

/** True when this code is the compiled JavaScript (dist/), not the TypeScript run by tsx. */
export const COMPILED = __filename.endsWith('.js');

/**
 * How to run one of the project's own scripts as a child process: `<dir>/<name>.js` when this
 * code is compiled and that file is there, else the TypeScript source through tsx.
 */
export function nodeScript(sourceFile: string): string[] {
  if (COMPILED) {
    const root = projectRoot();
    const compiled = path.join(root, 'dist', path.relative(root, sourceFile)).replace(/\.ts$/, '.js');
    if (fs.existsSync(compiled)) return [compiled];
  }
  return ['--import', 'tsx', sourceFile];
}
