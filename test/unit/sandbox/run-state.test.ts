import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { isSameProcess, ownLog, processStartTime, startProcess } from '../../../sandbox/process';
import { readVPSieReady } from '../../../sandbox/stack';

const readyLine = (port: number, pid: number): string =>
  JSON.stringify({
    url: `http://127.0.0.1:${port}`,
    admin: `http://127.0.0.1:${port}/admin`,
    clientId: 'id',
    clientSecret: 's',
    clusterIdentifier: 'c',
    port,
    pid,
  });

describe('sandbox state that outlives a run', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpsie-run-state-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("reads the simulator's endpoints from this run's ready line, never an earlier run's", async () => {
    const logFile = path.join(dir, 'vpsie-sim.log');
    // The previous run left its ready line (and a dead port) in the appended log.
    fs.writeFileSync(logFile, `# earlier run\n${readyLine(43137, 111)}\n{"level":"info","message":"vpsie simulator ready"}\n`);
    const proc = startProcess('vpsie-sim', '/bin/sh', ['-c', 'sleep 0.2; echo "$READY"'], dir, { ...process.env, READY: readyLine(50000, 0) });
    expect(readVPSieReady(proc), 'before this run printed its line').to.equal(undefined);
    await proc.exited;
    // The line this run printed names another pid than the shell's (0 here): still not ours.
    expect(readVPSieReady(proc)).to.equal(undefined);
    fs.appendFileSync(logFile, `${readyLine(50001, proc.pid)}\n`);
    expect(readVPSieReady(proc)?.url).to.equal('http://127.0.0.1:50001');
  });

  it("ownLog holds only what this run wrote, after the earlier runs' lines", async () => {
    fs.writeFileSync(path.join(dir, 'x.log'), 'old line\n');
    const proc = startProcess('x', '/bin/echo', ['new line'], dir);
    await proc.exited;
    const own = ownLog(proc);
    expect(own).to.include('new line');
    expect(own).to.not.include('old line');
  });

  it('a recorded pid counts as ours only while it is the same process (start time)', () => {
    const start = processStartTime(process.pid);
    expect(start).to.be.a('number');
    expect(isSameProcess(process.pid, start)).to.equal(true);
    expect(isSameProcess(process.pid, (start ?? 0) + 1), 'a reused pid').to.equal(false);
    expect(isSameProcess(process.pid, undefined), 'no recorded start time: liveness only').to.equal(true);
  });
});
