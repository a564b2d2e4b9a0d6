/**
 * Lease-based leader election (coordination.k8s.io/v1), as client-go's leaderelection does it:
 * every replica tries to acquire or renew the Lease every `retryPeriod`; a Lease held by another
 * identity can be taken once its record has not changed for `leaseDuration` (measured on this
 * replica's clock from when it last saw the record change, so clock skew between replicas does
 * not matter); a leader that cannot renew within `renewDeadline` steps down. On stop the leader
 * releases the Lease (empty holder, 1 s duration) so another replica takes over at once.
 * Only the leader runs the watchers; every replica runs a Temporal worker.
 */
import * as k8s from '@kubernetes/client-node';
import { apiStatus } from './api';
import { logger } from '../log';

export interface LeaderElectionOptions {
  kc: k8s.KubeConfig;
  namespace: string;
  /** Lease name (default `vpsie-capacity-orchestrator`). */
  name?: string;
  /** This replica's identity (default hostname + pid). */
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
  /** Called when this replica becomes leader; may be async. */
  onStartedLeading: () => void | Promise<void>;
  /** Called when it stops being leader (lost the Lease or stopped). */
  onStoppedLeading: () => void | Promise<void>;
  /** Called whenever the observed leader changes. */
  onNewLeader?: (identity: string) => void;
}

export interface LeaderElector {
  isLeader(): boolean;
  /** Stops electing; releases the Lease if held, after onStoppedLeading. */
  stop(): Promise<void>;
}

export const DEFAULT_LEASE_NAME = 'vpsie-capacity-orchestrator';

/** The apiserver wants MicroTime with 6 fraction digits; a plain Date serializes with 3 and is refused. */
function micro(d: Date = new Date()): k8s.V1MicroTime {
  return new k8s.V1MicroTime(d.getTime());
}

function toDate(t: unknown): Date | undefined {
  if (t instanceof Date) return t;
  if (typeof t === 'string') {
    const d = new Date(t);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

export function startLeaderElection(o: LeaderElectionOptions): LeaderElector {
  const api = o.kc.makeApiClient(k8s.CoordinationV1Api);
  const name = o.name ?? DEFAULT_LEASE_NAME;
  const leaseDuration = o.leaseDurationSeconds ?? 15;
  const renewDeadline = o.renewDeadlineSeconds ?? 10;
  const retryPeriod = o.retryPeriodSeconds ?? 2;
  const log = logger('leader-election', { lease: `${o.namespace}/${name}`, identity: o.identity });
  let leader = false;
  let stopped = false;
  let lastRenew = 0;
  let observed: { key: string; at: number } | undefined;
  let observedHolder = '';
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let transition: Promise<void> = Promise.resolve();

  const runHook = (f: () => void | Promise<void>, what: string) => {
    transition = transition.then(async () => {
      try {
        await f();
      } catch (err) {
        log.error(`${what} failed`, { error: String(err) });
      }
    });
  };

  const spec = (transitions: number, acquireTime: Date): k8s.V1LeaseSpec => ({
    holderIdentity: o.identity,
    leaseDurationSeconds: leaseDuration,
    acquireTime: micro(acquireTime),
    renewTime: micro(),
    leaseTransitions: transitions,
  });

  /** One try; true when this replica holds the Lease afterwards. */
  async function tryAcquireOrRenew(): Promise<boolean> {
    let lease: k8s.V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace: o.namespace });
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
      try {
        await api.createNamespacedLease({ namespace: o.namespace, body: { metadata: { name, namespace: o.namespace }, spec: spec(0, new Date()) } });
        return true;
      } catch (e2) {
        if (apiStatus(e2) === 409) return false;
        throw e2;
      }
    }
    const s = lease.spec ?? {};
    const holder = s.holderIdentity ?? '';
    const key = `${holder}|${toDate(s.renewTime)?.toISOString() ?? ''}|${s.leaseTransitions ?? 0}`;
    const now = Date.now();
    if (!observed || observed.key !== key) observed = { key, at: now };
    if (holder !== observedHolder) {
      observedHolder = holder;
      if (holder) o.onNewLeader?.(holder);
    }
    const duration = (s.leaseDurationSeconds ?? leaseDuration) * 1000;
    if (holder !== '' && holder !== o.identity && observed.at + duration > now) return false;
    const mine = holder === o.identity;
    const body: k8s.V1Lease = {
      ...lease,
      spec: spec(mine ? (s.leaseTransitions ?? 0) : (s.leaseTransitions ?? 0) + 1, mine ? (toDate(s.acquireTime) ?? new Date()) : new Date()),
    };
    try {
      await api.replaceNamespacedLease({ name, namespace: o.namespace, body });
      return true;
    } catch (err) {
      if (apiStatus(err) === 409) return false;
      throw err;
    }
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      let held = false;
      try {
        held = await tryAcquireOrRenew();
      } catch (err) {
        log.warn('lease update failed', { error: String(err) });
      }
      if (stopped) break;
      if (held) {
        lastRenew = Date.now();
        if (!leader) {
          leader = true;
          log.info('became leader');
          runHook(o.onStartedLeading, 'onStartedLeading');
        }
      } else if (leader && Date.now() - lastRenew > renewDeadline * 1000) {
        leader = false;
        log.warn('lost leadership (could not renew within the renew deadline)');
        runHook(o.onStoppedLeading, 'onStoppedLeading');
      } else if (leader && !held) {
        // Another replica holds it (e.g. it was released or taken over): step down now.
        try {
          const l = await api.readNamespacedLease({ name, namespace: o.namespace });
          if ((l.spec?.holderIdentity ?? '') !== o.identity) {
            leader = false;
            log.warn('another replica holds the lease; stepping down', { holder: l.spec?.holderIdentity });
            runHook(o.onStoppedLeading, 'onStoppedLeading');
          }
        } catch {
          // judged again next round
        }
      }
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, retryPeriod * 1000);
      });
    }
  }

  const running = loop();

  return {
    isLeader: () => leader,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      wake?.();
      await running;
      const wasLeader = leader;
      leader = false;
      if (wasLeader) runHook(o.onStoppedLeading, 'onStoppedLeading');
      await transition;
      if (!wasLeader) return;
      try {
        const lease = await api.readNamespacedLease({ name, namespace: o.namespace });
        if (lease.spec?.holderIdentity === o.identity) {
          await api.replaceNamespacedLease({
            name,
            namespace: o.namespace,
            body: {
              ...lease,
              spec: {
                ...lease.spec,
                holderIdentity: '',
                leaseDurationSeconds: 1,
                renewTime: micro(),
                ...(lease.spec?.acquireTime ? { acquireTime: micro(toDate(lease.spec.acquireTime)) } : {}),
              },
            },
          });
          log.info('released the lease');
        }
      } catch (err) {
        log.warn('could not release the lease', { error: String(err) });
      }
    },
  };
}
