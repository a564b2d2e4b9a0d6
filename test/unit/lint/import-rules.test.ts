/**
 * The import rules of eslint.config.mjs bite: each fixture in ./fixtures breaks one rule (or none)
 * and is linted as if it stood at the path of its `// lint-as:` line; the report must name the
 * broken rule (`// expect:`), and only it. The fixtures are left out of the normal lint run and of
 * the typecheck (their relative imports are written for the path they pretend to have).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { ESLint } from 'eslint';

const ROOT = path.resolve(__dirname, '../../..');
const FIXTURES = path.join(__dirname, 'fixtures');

interface Fixture {
  file: string;
  lintAs: string;
  expected: string | undefined;
  code: string;
}

function fixtures(): Fixture[] {
  return fs
    .readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((file) => {
      const code = fs.readFileSync(path.join(FIXTURES, file), 'utf8');
      const lintAs = /^\/\/ lint-as: (\S+)$/m.exec(code)?.[1];
      const expect = /^\/\/ expect: (.+)$/m.exec(code)?.[1];
      if (!lintAs || !expect) throw new Error(`${file}: needs // lint-as: and // expect: lines`);
      return { file, lintAs, expected: expect === 'nothing' ? undefined : expect, code };
    });
}

describe('lint: the import rules of the layout bite', function () {
  this.timeout(60_000);
  const eslint = new ESLint({ cwd: ROOT });

  it('leaves the fixtures out of the normal lint run', async () => {
    expect(await eslint.isPathIgnored(path.join(FIXTURES, 'decision-imports-temporal.ts'))).to.equal(true);
  });

  for (const f of fixtures()) {
    it(`${f.file} (as ${f.lintAs}): ${f.expected ? `reports "${f.expected}"` : 'reports nothing'}`, async () => {
      const [result] = await eslint.lintText(f.code, { filePath: path.join(ROOT, f.lintAs) });
      const messages = (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parser'}: ${m.message}`);
      if (f.expected === undefined) expect(messages).to.deep.equal([]);
      else {
        expect(messages).to.have.length(1, messages.join('\n'));
        expect(messages[0]).to.include('layout/import-rules').and.include(f.expected);
      }
    });
  }
});
