import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { endpointsPath, readEndpoints } from '../../sandbox/endpoints';
import { isAlive } from '../../sandbox/process';
import { SandboxError, startSandbox } from '../../sandbox/stack';

/** Ports the sandbox's processes listen on, read from /proc (owned sockets in LISTEN state). */
function listeningPorts(pids: number[]): number[] {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m?.[1]) inodes.add(m[1]);
      } catch {
        /* closed meanwhile */
      }
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && cols[9] && inodes.has(cols[9])) ports.push(parseInt(cols[1]!.split(':')[1]!, 16));
    }
  }
  return [...new Set(ports)];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

describe('sandbox lifecycle', function () {
  this.timeout(300_000);
  const dirs: string[] = [];
  const tmp = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vpsie-sandbox-test-'));
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('starts and stops twice in a row, leaving no process and no port behind', async () => {
    const dir = tmp();
    for (let round = 0; round < 2; round++) {
      const sb = await startSandbox({ dir, headless: true });
      const pids = Object.entries(sb.endpoints.pids)
        .filter(([k]) => k !== 'sandbox')
        .map(([, p]) => p);
      expect(pids).to.have.length.at.least(6);
      expect(pids.every(isAlive)).to.equal(true);
      const ports = listeningPorts(pids);
      expect(ports.length, 'ports the sandbox listens on').to.be.at.least(6);
      expect(readEndpoints(dir)?.kubeconfig).to.equal(path.join(dir, 'kubeconfig'));
      await sb.stop();
      expect(pids.filter(isAlive), 'processes left running').to.deep.equal([]);
      const held = [];
      for (const p of ports) if (!(await portFree(p))) held.push(p);
      expect(held, 'ports still held').to.deep.equal([]);
      expect(fs.existsSync(endpointsPath(dir)), 'endpoints.json removed on stop').to.equal(false);
    }
  });

  it('refuses a second sandbox in the same directory and leaves the first working', async () => {
    const dir = tmp();
    const first = await startSandbox({ dir, headless: true });
    try {
      let refused: unknown;
      try {
        const second = await startSandbox({ dir, headless: true });
        await second.stop();
      } catch (err) {
        refused = err;
      }
      expect(refused).to.be.instanceOf(SandboxError);
      expect((refused as Error).message).to.match(/already running/);
      const pids = Object.values(first.endpoints.pids);
      expect(pids.every(isAlive)).to.equal(true);
      const r = await fetch(`${first.endpoints.apiserver}/livez`).catch((e: unknown) => e);
      // The apiserver still answers (TLS with its own CA, so fetch's rejection is about the CA, not a refused connection).
      expect(String((r as Error).cause ?? r)).to.not.match(/ECONNREFUSED/);
    } finally {
      await first.stop();
    }
  });

  it('a component that cannot start gives one clear line naming it and its log, and leaves nothing running', async () => {
    const dir = tmp();
    const before = process.env.KUBE_SCHEDULER_BIN;
    process.env.KUBE_SCHEDULER_BIN = '/bin/false';
    let failure: unknown;
    try {
      await startSandbox({ dir, headless: true, readyTimeoutMs: 20_000 });
    } catch (err) {
      failure = err;
    } finally {
      if (before === undefined) delete process.env.KUBE_SCHEDULER_BIN;
      else process.env.KUBE_SCHEDULER_BIN = before;
    }
    expect(failure).to.be.instanceOf(SandboxError);
    const message = (failure as Error).message;
    expect(message).to.match(/^kube-scheduler exited \(1\) before healthz \(log: .*kube-scheduler\.log\)$/);
    expect(message.split('\n')).to.have.length(1);
    const logs = fs.readdirSync(path.join(dir, 'logs'));
    expect(logs).to.include('kube-apiserver.log');
    expect(fs.existsSync(endpointsPath(dir))).to.equal(false);
    // Nothing the failed start launched is still alive: no process has its sandbox dir in argv.
    const leftovers = fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
        } catch {
          return false;
        }
      });
    expect(leftovers).to.deep.equal([]);
  });
});
