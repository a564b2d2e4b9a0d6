/**
 * The Kyverno ClusterPolicies of k8s/kyverno/ decide as their CLI tests say: the toolchain's Kyverno
 * CLI (`kubectl-kyverno test k8s/kyverno/tests`, offline, no sandbox) reports every expected result
 * of kyverno-test.yaml — one per (result, resource) pair — as passing, and none failing. And it
 * really evaluates the policies: in a copy of k8s/kyverno/ with one expected `fail` turned into
 * `pass`, exactly that result fails and the CLI exits non-zero.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { ensureKyverno } from '../../../sandbox/toolchain';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TESTS = path.join('k8s', 'kyverno', 'tests');

interface ExpectedResult {
  policy: string;
  rule: string;
  resources: string[];
  result: string;
}

interface CliRun {
  code: number;
  output: string;
  passed: number;
  failed: number;
}

/** `kubectl-kyverno test <dir>`: its exit code, its output, and the counts of its summary line. */
function kyvernoTest(bin: string, dir: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(bin, ['test', dir, '--remove-color'], { cwd: ROOT, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      const output = `${stdout}\n${stderr}`;
      const summary = /^Test Summary: (\d+) tests? passed and (\d+) tests? failed$/m.exec(output);
      if (!summary) return reject(new Error(`kubectl-kyverno test ${dir} (exit ${code}) printed no summary:\n${output}`));
      resolve({ code, output, passed: Number(summary[1]), failed: Number(summary[2]) });
    });
  });
}

function expectedResults(testsDir: string): ExpectedResult[] {
  const test = YAML.parse(fs.readFileSync(path.join(testsDir, 'kyverno-test.yaml'), 'utf8')) as { results: ExpectedResult[] };
  return test.results;
}

describe('k8s/kyverno: the Kyverno CLI tests (kubectl-kyverno test)', function () {
  let bin = '';
  let tmp = '';
  const results = expectedResults(path.join(ROOT, TESTS));
  const expectedCount = results.reduce((n, r) => n + r.resources.length, 0);

  before(async function () {
    this.timeout(30 * 60_000); // a cold build of the CLI by the toolchain takes minutes
    bin = await ensureKyverno((line) => console.error(`toolchain: ${line}`));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kyverno-test-'));
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('every expected result of k8s/kyverno/tests passes, none fails', async function () {
    this.timeout(120_000);
    expect(expectedCount).to.be.greaterThan(0);
    const r = await kyvernoTest(bin, TESTS);
    expect(r.code, r.output).to.equal(0);
    expect({ passed: r.passed, failed: r.failed }, r.output).to.deep.equal({ passed: expectedCount, failed: 0 });
    expect(r.output).to.include(`ID (${expectedCount})`);
  });

  it('with one expected `fail` turned into `pass` (a VPA with an unknown tier label), that result fails and the CLI exits non-zero', async function () {
    this.timeout(120_000);
    // The tests name the policies as ../<file>.yaml: copy the policies with them.
    const copy = path.join(tmp, 'kyverno');
    fs.cpSync(path.join(ROOT, 'k8s', 'kyverno'), copy, { recursive: true });
    const file = path.join(copy, 'tests', 'kyverno-test.yaml');
    const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
    const list = doc.get('results') as YAML.YAMLSeq<YAML.YAMLMap>;
    const entry = list.items.find((m) => m.get('rule') === 'known-tier-label' && m.get('result') === 'fail');
    expect(entry, 'the known-tier-label fail result').to.not.equal(undefined);
    const resources = (entry!.get('resources') as YAML.YAMLSeq<YAML.Scalar<string>>).items.map((s) => String(s.value));
    expect(resources).to.deep.equal(['gold-label']);
    entry!.set('result', 'pass');
    fs.writeFileSync(file, doc.toString());

    const r = await kyvernoTest(bin, path.join(copy, 'tests'));
    expect(r.code, r.output).to.not.equal(0);
    expect({ passed: r.passed, failed: r.failed }, r.output).to.deep.equal({ passed: expectedCount - 1, failed: 1 });
    const failing = r.output.split('\n').filter((l) => /│\s*Fail\s*│/.test(l));
    expect(failing, r.output).to.have.length(1);
    expect(failing[0]).to.match(
      /known-tier-label\s*│\s*autoscaling\.k8s\.io\/v1\/VerticalPodAutoscaler\/tenant-dev-a\/gold-label\s*│\s*Fail\s*│\s*Want pass, got fail/,
    );
  });
});
