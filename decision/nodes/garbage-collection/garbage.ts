/**
 * Pure garbage-collection decisions: which VPS instances are ours but have no VPSieNode (leaked,
 * e.g. a VPSieNode force-removed while its machine existed), and which Ready VPSieNodes lost their
 * machine. A machine is "ours" only when its notes carry the orchestrator's request id
 * (`orchestrator-request-id=<VPSieNode uid>`, written by `VPSieClient.ensureVm`); any other
 * machine is someone else's and is never touched. Time is an argument.
 */

/** The notes key `ensureVm` writes (clients/vpsie REQUEST_ID_NOTE_PREFIX, without '='). */
export const REQUEST_ID_NOTE_KEY = 'orchestrator-request-id';
/** The notes key the lifecycle's machine activity writes: `vpsienode=<namespace>/<name>`. */
export const VPSIENODE_NOTE_KEY = 'vpsienode';

export interface GcVm {
  identifier: string;
  hostname: string;
  notes: string | null | undefined;
  /** VPSie's created_on (`YYYY-MM-DD HH:MM:SS` UTC or ISO). */
  createdOn?: string;
  deleted: boolean;
}

export interface GcVPSieNode {
  namespace: string;
  name: string;
  uid: string;
  phase?: string;
  joinMethod: string;
  vpsieIdentifier?: string;
}

export interface LeakedVm {
  identifier: string;
  hostname: string;
  requestId: string;
  /** `namespace/name` of the VPSieNode the machine was made for, when its notes say. */
  vpsieNode?: string;
  ageSeconds: number;
}

export interface VanishedNode {
  namespace: string;
  name: string;
  uid: string;
}

export interface GarbageReport {
  leaked: LeakedVm[];
  /** Ours but younger than the grace period (looked at again next round). */
  young: number;
  /** Machines without the request-id note (someone else's). */
  foreign: number;
  vanished: VanishedNode[];
}

/** `key=value` tokens of a VM's notes. */
export function parseNotes(notes: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tok of (notes ?? '').split(/\s+/)) {
    const i = tok.indexOf('=');
    if (i > 0) out[tok.slice(0, i)] = tok.slice(i + 1);
  }
  return out;
}

/** Milliseconds since epoch of VPSie's created_on; undefined when unparsable. */
export function parseCreatedOn(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$/.test(s) ? `${s.replace(' ', 'T')}Z` : s;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * The garbage among `vms` given every VPSieNode of the cluster (all namespaces: a machine is
 * leaked only if NO VPSieNode anywhere has its request id). With `namespace` set, only machines
 * whose notes name a VPSieNode of that namespace, and only VPSieNodes of it, are considered.
 * A machine of unknown age counts as old.
 */
export function findGarbage(
  vms: readonly GcVm[],
  vpsieNodes: readonly GcVPSieNode[],
  opts: { nowMs: number; graceSeconds: number; namespace?: string },
): GarbageReport {
  const uids = new Set(vpsieNodes.map((n) => n.uid));
  const report: GarbageReport = { leaked: [], young: 0, foreign: 0, vanished: [] };
  const live = vms.filter((v) => !v.deleted);
  for (const vm of live) {
    const notes = parseNotes(vm.notes);
    const requestId = notes[REQUEST_ID_NOTE_KEY];
    if (!requestId) {
      report.foreign += 1;
      continue;
    }
    const owner = notes[VPSIENODE_NOTE_KEY];
    if (opts.namespace && (owner === undefined || owner.split('/')[0] !== opts.namespace)) continue;
    if (uids.has(requestId)) continue;
    const created = parseCreatedOn(vm.createdOn);
    const ageSeconds = created === undefined ? Number.POSITIVE_INFINITY : Math.max(0, (opts.nowMs - created) / 1000);
    if (ageSeconds < opts.graceSeconds) {
      report.young += 1;
      continue;
    }
    report.leaked.push({
      identifier: vm.identifier,
      hostname: vm.hostname,
      requestId,
      ...(owner ? { vpsieNode: owner } : {}),
      ageSeconds: Number.isFinite(ageSeconds) ? Math.round(ageSeconds) : -1,
    });
  }
  const byRequest = new Set(live.map((v) => parseNotes(v.notes)[REQUEST_ID_NOTE_KEY]).filter((x): x is string => x !== undefined));
  const byIdentifier = new Set(live.map((v) => v.identifier));
  for (const n of vpsieNodes) {
    if (opts.namespace && n.namespace !== opts.namespace) continue;
    if (n.phase !== 'Ready' || n.joinMethod !== 'UserData') continue;
    if (byRequest.has(n.uid) || (n.vpsieIdentifier !== undefined && byIdentifier.has(n.vpsieIdentifier))) continue;
    report.vanished.push({ namespace: n.namespace, name: n.name, uid: n.uid });
  }
  return report;
}
