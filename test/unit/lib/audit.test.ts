/**
 * The audit log of lib/audit.ts, read as the process writes it (a winston transport on the
 * logger of lib/log.ts, receiving the formatted JSON line): one line per key whatever repeats it,
 * exactly the fields of the documented convention, nothing outside them (so no secret), and
 * what the call sites derive their entries from (the NodeGroup's own decisions, a pod's old and
 * new requests).
 */
import os from 'node:os';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import winston from 'winston';
import { AUDIT_ACTIONS, MAX_AUDIT_DETAIL, MAX_AUDIT_NODES, audit, auditIdentity, type AuditEntry } from '../../../lib/audit';
import { logger } from '../../../lib/log';
import { groupAudit } from '../../../activities/nodes/nodegroup';
import { requestNumbers } from '../../../activities/rightsizing/apply';

/** Every line the process writes at info and above, as printed (one JSON object a line), while attached. */
class Capture {
  readonly lines: Record<string, unknown>[] = [];
  readonly transport = new winston.transports.Stream({
    level: 'info',
    stream: new Writable({
      write: (chunk: Buffer, _enc, done) => {
        for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) this.lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    }),
  });
}

let run = 0;
/** An entry with a decision id of its own (the once-per-event memory is the process's). */
function entry(over: Partial<AuditEntry> = {}): AuditEntry {
  run++;
  return {
    action: 'ScaleUp',
    decision: `test-${process.pid}-${run}-${Date.now()}`,
    object: { kind: 'NodeGroup', namespace: 'team-a', name: 'web' },
    reason: 'PendingPods',
    numbers: { newNodes: 2, pods: 5, monthlyPrice: 24 },
    ...over,
  };
}

describe('lib/audit', () => {
  let capture: Capture;
  const host = logger('audit-test');
  beforeEach(() => {
    capture = new Capture();
    host.add(capture.transport);
  });
  afterEach(() => {
    host.remove(capture.transport);
  });
  const auditLines = () => capture.lines.filter((l) => l.audit === true);
  const warnings = () => capture.lines.filter((l) => l.component === 'audit' && l.level === 'warn');

  it('writes one line per key (action, decision, object) even when called again with it', () => {
    const e = entry();
    expect(audit(e)).to.equal(true);
    expect(audit(e)).to.equal(false);
    expect(audit({ ...e, numbers: { newNodes: 3 }, detail: 'a retry says it differently' })).to.equal(false);
    expect(auditLines()).to.have.length(1);
    // another object or another action under the same decision is another event
    expect(audit({ ...e, object: { kind: 'NodeGroup', namespace: 'team-a', name: 'batch' } })).to.equal(true);
    expect(audit({ ...e, action: 'UtilizationScaleUp' })).to.equal(true);
    expect(auditLines()).to.have.length(3);
  });

  it('writes the fields of the convention: audit, action, actor, object, reason, numbers, decision and the optional ones', () => {
    const e = entry({
      outcome: 'Created',
      nodegroup: 'team-a/web',
      nodes: ['web-abc12', 'web-def34'],
      detail: 'added 2/2 node(s)',
      dryRun: true,
    });
    audit(e);
    const [line] = auditLines();
    expect(line).to.deep.equal({
      // lib/log.ts's fields
      component: 'audit',
      level: 'info',
      message: 'audit: ScaleUp',
      timestamp: line?.timestamp,
      // the convention
      audit: true,
      action: 'ScaleUp',
      actor: { part: 'worker', identity: auditIdentity() },
      object: { kind: 'NodeGroup', namespace: 'team-a', name: 'web' },
      reason: 'PendingPods',
      numbers: { newNodes: 2, pods: 5, monthlyPrice: 24 },
      decision: e.decision,
      outcome: 'Created',
      nodegroup: 'team-a/web',
      nodes: ['web-abc12', 'web-def34'],
      dryRun: true,
      detail: 'added 2/2 node(s)',
    });
    expect(Date.parse(String(line?.timestamp))).to.be.a('number').and.not.NaN;
    expect(auditIdentity()).to.equal(process.env.POD_NAME || `${os.hostname()}-${process.pid}`);
  });

  it('names every action of the closed set in its message', () => {
    for (const action of AUDIT_ACTIONS) audit(entry({ action }));
    expect(auditLines().map((l) => l.message)).to.deep.equal(AUDIT_ACTIONS.map((a) => `audit: ${a}`));
  });

  it('writes no field outside the convention: smuggled secrets never reach the line, and the warning names keys only', () => {
    const smuggled = {
      ...entry(),
      userData: 'SECRET-USERDATA',
      token: 'SECRET-TOKEN',
      spec: { join: { bootstrapToken: 'SECRET-BOOTSTRAP' } },
      object: { kind: 'VPSieNode', namespace: 'team-a', name: 'web-abc12', password: 'SECRET-PASSWORD' },
      numbers: { nodes: 1, clientSecret: 'SECRET-CLIENT', bad: Number.NaN },
    } as unknown as AuditEntry;
    expect(audit(smuggled)).to.equal(true);
    const printed = JSON.stringify(capture.lines);
    expect(printed).not.to.match(/SECRET-/);
    const [line] = auditLines();
    expect(line?.object).to.deep.equal({ kind: 'VPSieNode', namespace: 'team-a', name: 'web-abc12' });
    expect(line?.numbers).to.deep.equal({ nodes: 1 });
    expect(Object.keys(line ?? {})).to.have.members([
      'component',
      'level',
      'message',
      'timestamp',
      'audit',
      'action',
      'actor',
      'object',
      'reason',
      'numbers',
      'decision',
    ]);
    const [warning] = warnings();
    expect(warning?.fields).to.have.members(['userData', 'token', 'spec', 'object.password', 'numbers.clientSecret', 'numbers.bad']);
  });

  it('goes through lib/log.ts: a secret-named key on the line would be redacted like on any line', () => {
    // The audit fields are named so that the redaction never hides one of them ...
    audit(entry());
    const [line] = auditLines();
    for (const [k, v] of Object.entries(line ?? {})) expect(v, k).not.to.equal('[redacted]');
    // ... and the logger it writes through redacts by key name, as for every component.
    logger('audit').info('a line with a credential', { clientSecret: 'SECRET-VALUE' });
    const plain = capture.lines.find((l) => l.message === 'a line with a credential');
    expect(plain?.clientSecret).to.equal('[redacted]');
  });

  it('bounds what it writes: at most 64 nodes, a detail of at most 2048 characters', () => {
    const nodes = Array.from({ length: 100 }, (_, i) => `node-${i}`);
    audit(entry({ nodes, detail: 'x'.repeat(5000) }));
    const [line] = auditLines();
    expect(line?.nodes).to.deep.equal(nodes.slice(0, MAX_AUDIT_NODES));
    expect(String(line?.detail)).to.have.length(MAX_AUDIT_DETAIL);
  });

  it('never throws: an entry outside the convention is warned about and not written (nor remembered)', () => {
    const bad = { ...entry(), action: 'Reboot' } as unknown as AuditEntry;
    expect(audit(bad)).to.equal(false);
    expect(audit({ ...entry(), object: { kind: 'Node', name: '' } })).to.equal(false);
    expect(auditLines()).to.have.length(0);
    expect(warnings()).to.have.length(2);
    expect(String(warnings()[0]?.issues)).to.match(/action/);
    // the same decision, once valid, is written
    const ok = entry();
    expect(audit({ ...ok, reason: '' })).to.equal(false);
    expect(audit(ok)).to.equal(true);
  });
});

describe('audit call sites: what an entry is made of', () => {
  it("NodeGroup: its own reconcile and its deletion are audited there; other decisions' nodes are not", () => {
    // workflows/nodes/nodegroup/work.ts: reconcile work `reconcile:<uuid>`, message `<reason>: …`
    expect(groupAudit('create', { requestId: 'reconcile:1', message: 'BelowMinNodes: 1 e.nodes to reach e.desired 1 (min 1, max 2)' })).to.deep.equal({
      action: 'NodeGroupMinEnforced',
      reason: 'BelowMinNodes',
    });
    expect(groupAudit('create', { requestId: 'reconcile:2', message: 'BelowDesired: 1 e.nodes to reach e.desired 2 (min 0, max 3)' })).to.deep.equal({
      action: 'NodeGroupDesiredEnforced',
      reason: 'BelowDesired',
    });
    expect(groupAudit('delete', { message: 'AboveMaxNodes: removing 1 to reach e.desired 2 (min 0, max 2)' })).to.deep.equal({
      action: 'NodeGroupMaxEnforced',
      reason: 'AboveMaxNodes',
    });
    expect(groupAudit('delete', { message: 'NodeGroup deleted' })).to.deep.equal({ action: 'NodeGroupDeleted', reason: 'NodeGroupDeleted' });
    // a scale-up request's nodes (audited as ScaleUp) and a scale-down's removal (audited as ScaleDown)
    expect(groupAudit('create', { requestId: 'scale-up/x/team-a/web/r0', message: 'PendingPods: 3 pods (asked 1, granted 1)' })).to.equal(undefined);
    expect(groupAudit('create', { requestId: 'reconcile:3', message: 'AboveMaxNodes: nonsense for a creation' })).to.equal(undefined);
    expect(groupAudit('delete', { message: 'Underutilized: underutilised node approved (e.desired 1, min 0)' })).to.equal(undefined);
    expect(groupAudit('delete', { message: 'BelowMinNodes: not a removal reason' })).to.equal(undefined);
  });

  it("rightsizing: a pod's old requests from its spec (or what the kubelet runs), the new ones as the pod gets them", () => {
    const pod = {
      metadata: { name: 'web-1' },
      spec: { containers: [{ name: 'app', resources: { requests: { cpu: '1', memory: '1Gi' } } }] },
      status: { containerStatuses: [{ name: 'app', resources: { requests: { cpu: '800m', memory: '1Gi' } } }] },
    };
    const changes = [{ name: 'app', requests: { cpu: 499.2, memory: 640 * 2 ** 20 }, changes: { cpu: { from: 1000, to: 499.2 } } }];
    expect(requestNumbers(pod, changes)).to.deep.equal({
      'app.cpuMillicores.from': 1000,
      'app.cpuMillicores.to': 500, // formatCpu rounds up to whole millicores
      'app.memoryBytes.from': 2 ** 30,
      'app.memoryBytes.to': 640 * 2 ** 20,
    });
    expect(requestNumbers(pod, changes, true)['app.cpuMillicores.from']).to.equal(800);
    // a resource the change leaves alone is not reported
    expect(requestNumbers(pod, [{ name: 'app', requests: { memory: 2 ** 29 }, changes: {} }])).to.deep.equal({
      'app.memoryBytes.from': 2 ** 30,
      'app.memoryBytes.to': 2 ** 29,
    });
  });
});
