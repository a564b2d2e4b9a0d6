import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { parseMode, TOP_HELP } from '../../../workers/cli';
import { restoreArgsFromEnv } from '../../../starters/coordination/restore-cli';

const REPO = path.resolve(__dirname, '../../..');
const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO, 'workers', 'cli.ts'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });

describe('The entry point (workers/cli.ts): one command, a mode per job', function () {
  this.timeout(120_000);
  it('reads the mode: none or a flag first is run; a mode takes the rest; anything else is refused', () => {
    expect(parseMode([])).to.deep.equal({ mode: 'run', rest: [] });
    expect(parseMode(['--log-level', 'debug'])).to.deep.equal({ mode: 'run', rest: ['--log-level', 'debug'] });
    expect(parseMode(['restore', '--at', 'x'])).to.deep.equal({ mode: 'restore', rest: ['--at', 'x'] });
    expect(parseMode(['--help'])).to.deep.equal({ help: true });
    expect(parseMode(['serve']))
      .to.have.property('error')
      .that.matches(/unknown mode serve/);
  });

  it('--help of each mode lists its flags with their environment variables, exits 0 and starts nothing', () => {
    const top = cli(['--help']);
    expect(top.status).to.equal(0);
    expect(top.stdout).to.equal(TOP_HELP);
    const run = cli(['run', '--help']);
    expect(run.status).to.equal(0);
    expect(run.stdout).to.include('--components').and.include('COMPONENTS').and.include('--kubeconfig');
    const sandbox = cli(['sandbox', '--help']);
    expect(sandbox.status).to.equal(0);
    expect(sandbox.stdout).to.include('SANDBOX_DIR');
    const restore = cli(['restore', '--help']);
    expect(restore.status).to.equal(0);
    for (const [flag, env] of [
      ['--at', 'RESTORE_AT'],
      ['--backup', 'RESTORE_BACKUP'],
      ['--namespace', 'RESTORE_NAMESPACES'],
      ['--kind', 'RESTORE_KINDS'],
      ['--dry-run', 'RESTORE_DRY_RUN'],
      ['--overwrite', 'RESTORE_OVERWRITE'],
    ])
      expect(restore.stdout).to.match(new RegExp(`${flag}\\b.*${env}`));
    const backup = cli(['backup', '--help']);
    expect(backup.status).to.equal(0);
    expect(backup.stdout).to.match(/--retention-days.*BACKUP_RETENTION_DAYS/);
  });

  it('an unknown mode exits 2 naming it', () => {
    const r = cli(['serve']);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include('unknown mode serve');
  });

  it("restore's variables are its flags", () => {
    expect(restoreArgsFromEnv({ RESTORE_AT: '2026-12-01T00:00:00Z', RESTORE_NAMESPACES: 'a, b', RESTORE_DRY_RUN: 'true' })).to.deep.equal([
      '--at',
      '2026-12-01T00:00:00Z',
      '--namespace',
      'a',
      '--namespace',
      'b',
      '--dry-run',
    ]);
  });
});
