/**
 * Recording workflow histories for the replay tests (test/replay): with RECORD_REPLAY_HISTORIES=1
 * an integration test saves a run's history as `temporal workflow show --output json` writes it
 * (proto JSON), and the workflow id next to it (`<name>.workflow-id`: ids derived from it, such as
 * child workflow and request ids, must match on replay).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestSandbox } from './sandbox';

export function recordHistory(sb: TestSandbox, workflowId: string, dir: string, name: string): void {
  if (process.env.RECORD_REPLAY_HISTORIES !== '1') return;
  const t = sb.endpoints.temporal;
  const json = execFileSync(t.cli, ['workflow', 'show', '--workflow-id', workflowId, '--address', t.address, '--namespace', t.namespace, '--output', 'json'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.json`), json);
  fs.writeFileSync(path.join(dir, `${name}.workflow-id`), `${workflowId}\n`);
}
