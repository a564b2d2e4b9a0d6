/**
 * Sample OptimizationPolicies, valid and invalid, shared by the unit tests (zod and the OpenAPI
 * schema must agree on each) and the rightsizing admission test (the real apiserver must agree
 * too). Every invalid sample names the field a refusal must name.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { at, clone, type InvalidSample, type JsonObject, type Sample } from './crd-samples';

export const EXAMPLE_POLICY_FILE = path.resolve(__dirname, '..', '..', 'k8s', 'examples', 'optimizationpolicy-production.yaml');

/** The product document's example policy, exactly as in k8s/examples/ (without its namespace). */
export function examplePolicy(): JsonObject {
  const o = YAML.parse(fs.readFileSync(EXAMPLE_POLICY_FILE, 'utf8')) as JsonObject;
  delete (o.metadata as JsonObject).namespace;
  return o;
}

function pol(name: string, mutate: (o: JsonObject) => void): JsonObject {
  const o = examplePolicy();
  (o.metadata as JsonObject).name = name;
  mutate(o);
  return o;
}
const spec = (o: JsonObject): JsonObject => o.spec as JsonObject;
const T = '2026-01-15T10:05:00Z';

export const VALID_POLICIES: Sample[] = [
  { name: 'the product document example', object: examplePolicy() },
  {
    name: 'only a namespace allow-list (everything else defaulted)',
    object: {
      apiVersion: 'optipod.io/v1alpha1',
      kind: 'OptimizationPolicy',
      metadata: { name: 'minimal' },
      spec: { selector: { namespaces: { allow: ['team-a'] } } },
    },
  },
  {
    name: 'only a workload selector with expressions, Recommend mode, metrics-server',
    object: pol('expressions', (o) =>
      Object.assign(spec(o), {
        mode: 'Recommend',
        selector: {
          workloadSelector: {
            matchExpressions: [
              { key: 'app.kubernetes.io/name', operator: 'In', values: ['web', 'api'] },
              { key: 'optipod.io/skip', operator: 'DoesNotExist' },
            ],
          },
          workloadTypes: { include: ['Deployment', 'StatefulSet'], exclude: ['StatefulSet'] },
        },
        metricsConfig: { provider: 'metrics-server', percentile: 'P99', safetyFactor: 1 },
        weight: 1000,
      }),
    ),
  },
  {
    name: 'min equal to max, in different units',
    object: pol('equal-bounds', (o) => (spec(o).resourceBounds = { cpu: { min: '1', max: '1000m' }, memory: { min: '1Gi', max: '1024Mi' } })),
  },
  {
    name: 'limit multipliers with updateRequestsOnly false',
    object: pol('limits', (o) => (spec(o).updateStrategy = { updateRequestsOnly: false, cpuLimitMultiplier: 2, memoryLimitMultiplier: 1.5 })),
  },
  {
    name: 'the application rules set (threshold, step, cooldown, floor, recreate)',
    object: pol(
      'apply-rules',
      (o) =>
        (spec(o).updateStrategy = {
          allowRecreate: true,
          changeThresholdPercent: 0,
          maxChangePercent: 1000,
          cooldown: '0s',
          memoryMarginPercent: 0,
          minReplicasForRecreate: 1,
          allowSingleReplicaRecreate: true,
          resizeDeferredTimeout: '1s',
        }),
    ),
  },
  {
    name: 'Disabled, 1m interval, 720h window, compound durations',
    object: pol('edges', (o) => Object.assign(spec(o), { mode: 'Disabled', reconciliationInterval: '1m', metricsConfig: { rollingWindow: '719h60m' } })),
  },
  {
    name: 'with a status written by the orchestrator',
    object: pol('with-status', (o) => {
      o.status = {
        observedGeneration: 1,
        dryRun: false,
        lastReconciliationTime: T,
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: T, reason: 'PolicyValid', message: 'Policy is active and processing workloads' }],
        counts: { discovered: 3, monitored: 3, recommended: 2, applied: 1, skipped: 1 },
        workloadsOmitted: 0,
        workloads: [
          {
            kind: 'Deployment',
            namespace: 'production',
            name: 'web-deployment',
            policy: 'optipod-system/production-workloads',
            outcome: 'Applied',
            method: 'InPlace',
            lastRecommendationTime: T,
            lastAppliedTime: T,
            containers: [
              {
                name: 'nginx',
                requests: { cpu: '1', memory: '1Gi' },
                limits: { memory: '2Gi' },
                target: { cpu: '500m', memory: '512Mi' },
                lowerBound: { cpu: '300m', memory: '400Mi' },
                upperBound: { cpu: '900m', memory: '800Mi' },
                uncappedTarget: { cpu: '500m', memory: '512Mi' },
                cpu: { reason: 'Percentile', percentile: 'P90', percentileValue: '417m', safetyFactor: 1.2, cappedBy: 'None' },
                memory: { reason: 'OOMBump', percentile: 'P90', percentileValue: '300Mi', safetyFactor: 1.2, cappedBy: 'None' },
                sampleCount: 2880,
                confidence: 0.67,
              },
            ],
          },
          {
            kind: 'StatefulSet',
            namespace: 'production',
            name: 'db',
            policy: 'optipod-system/databases',
            outcome: 'Skipped',
            skipReason: 'OverriddenByPolicy',
            method: 'None',
          },
        ],
      };
    }),
  },
];

export const INVALID_POLICIES: InvalidSample[] = [
  // ---- refused by the OpenAPI schema
  { name: 'unknown mode', by: 'schema', field: 'spec.mode', object: pol('bad-mode', (o) => (spec(o).mode = 'Aggressive')) },
  { name: 'missing selector', by: 'schema', field: 'spec.selector', object: pol('no-selector', (o) => delete spec(o).selector) },
  { name: 'weight 0', by: 'schema', field: 'spec.weight', object: pol('zero-weight', (o) => (spec(o).weight = 0)) },
  { name: 'weight above 1000', by: 'schema', field: 'spec.weight', object: pol('huge-weight', (o) => (spec(o).weight = 1001)) },
  {
    name: 'unknown percentile',
    by: 'schema',
    field: 'spec.metricsConfig.percentile',
    object: pol('p95', (o) => (at(o, 'spec.metricsConfig').percentile = 'P95')),
  },
  {
    name: 'safety factor below 1',
    by: 'schema',
    field: 'spec.metricsConfig.safetyFactor',
    object: pol('low-factor', (o) => (at(o, 'spec.metricsConfig').safetyFactor = 0.9)),
  },
  {
    name: 'unknown provider',
    by: 'schema',
    field: 'spec.metricsConfig.provider',
    object: pol('bad-provider', (o) => (at(o, 'spec.metricsConfig').provider = 'datadog')),
  },
  {
    name: 'rolling window not a duration',
    by: 'schema',
    field: 'spec.metricsConfig.rollingWindow',
    object: pol('bad-window', (o) => (at(o, 'spec.metricsConfig').rollingWindow = '1 day')),
  },
  {
    name: 'interval not a duration',
    by: 'schema',
    field: 'spec.reconciliationInterval',
    object: pol('bad-interval', (o) => (spec(o).reconciliationInterval = '5 minutes')),
  },
  {
    name: 'cpu min not a quantity',
    by: 'schema',
    field: 'spec.resourceBounds.cpu.min',
    object: pol('bad-cpu', (o) => (at(o, 'spec.resourceBounds.cpu').min = '100 millicores')),
  },
  {
    name: 'negative memory max',
    by: 'schema',
    field: 'spec.resourceBounds.memory.max',
    object: pol('neg-mem', (o) => (at(o, 'spec.resourceBounds.memory').max = '-1Gi')),
  },
  {
    name: 'namespace name with upper case',
    by: 'schema',
    field: 'spec.selector.namespaces.deny[0]',
    object: pol('bad-ns', (o) => (at(o, 'spec.selector.namespaces').deny = ['Kube-System'])),
  },
  {
    name: 'duplicate allowed namespace',
    by: 'schema',
    field: 'spec.selector.namespaces.allow[1]',
    object: pol('dup-ns', (o) => (at(o, 'spec.selector.namespaces').allow = ['a', 'a'])),
  },
  {
    name: 'unknown workload type',
    by: 'schema',
    field: 'spec.selector.workloadTypes.include[0]',
    object: pol('bad-kind', (o) => (at(o, 'spec.selector').workloadTypes = { include: ['CronJob'] })),
  },
  {
    name: 'unknown selector operator',
    by: 'schema',
    field: 'spec.selector.workloadSelector.matchExpressions[0].operator',
    object: pol('bad-op', (o) => (at(o, 'spec.selector').workloadSelector = { matchExpressions: [{ key: 'a', operator: 'Like', values: ['x'] }] })),
  },
  {
    name: 'limit multiplier below 1',
    by: 'schema',
    field: 'spec.updateStrategy.cpuLimitMultiplier',
    object: pol('low-mult', (o) => (spec(o).updateStrategy = { updateRequestsOnly: false, cpuLimitMultiplier: 0.5 })),
  },
  { name: 'unknown field (typo)', by: 'schema', field: 'spec.reconcileInterval', object: pol('typo', (o) => (spec(o).reconcileInterval = '5m')) },
  {
    name: 'unknown workload outcome in status',
    by: 'schema',
    field: 'status.workloads[0].outcome',
    object: pol('bad-outcome', (o) => (o.status = { workloads: [{ kind: 'Deployment', namespace: 'a', name: 'b', policy: 'a/p', outcome: 'Maybe' }] })),
  },
  {
    name: 'unknown skip reason in status',
    by: 'schema',
    field: 'status.workloads[0].skipReason',
    object: pol(
      'bad-skip',
      (o) => (o.status = { workloads: [{ kind: 'Deployment', namespace: 'a', name: 'b', policy: 'a/p', outcome: 'Skipped', skipReason: 'Bored' }] }),
    ),
  },
  {
    name: 'unknown Ready reason',
    by: 'schema',
    field: 'status.conditions[0].reason',
    object: pol('bad-reason', (o) => (o.status = { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: T, reason: 'Fine', message: '' }] })),
  },
  {
    name: 'confidence above 1',
    by: 'schema',
    field: 'status.workloads[0].containers[0].confidence',
    object: pol(
      'bad-confidence',
      (o) =>
        (o.status = {
          workloads: [{ kind: 'Deployment', namespace: 'a', name: 'b', policy: 'a/p', outcome: 'Recommended', containers: [{ name: 'c', confidence: 1.5 }] }],
        }),
    ),
  },
  // ---- refused by CEL rules
  { name: 'an empty selector', by: 'cel', field: 'spec.selector', object: pol('empty-selector', (o) => (spec(o).selector = {})) },
  {
    name: 'a selector with only a deny-list',
    by: 'cel',
    field: 'spec.selector',
    object: pol('deny-only', (o) => (spec(o).selector = { namespaces: { deny: ['kube-system'] } })),
  },
  {
    name: 'cpu min above max',
    by: 'cel',
    field: 'spec.resourceBounds.cpu.min',
    object: pol('cpu-min-gt-max', (o) => (spec(o).resourceBounds = { cpu: { min: '2', max: '1500m' } })),
  },
  {
    name: 'memory min above max',
    by: 'cel',
    field: 'spec.resourceBounds.memory.min',
    object: pol('mem-min-gt-max', (o) => (spec(o).resourceBounds = { memory: { min: '1Gi', max: '1000Mi' } })),
  },
  {
    name: 'interval below 1 minute',
    by: 'cel',
    field: 'spec.reconciliationInterval',
    object: pol('fast-interval', (o) => (spec(o).reconciliationInterval = '30s')),
  },
  {
    name: 'cooldown above 168 hours',
    by: 'cel',
    field: 'spec.updateStrategy.cooldown',
    object: pol('long-cooldown', (o) => (spec(o).updateStrategy = { cooldown: '169h' })),
  },
  {
    name: 'resize deferred timeout below 1 second',
    by: 'cel',
    field: 'spec.updateStrategy.resizeDeferredTimeout',
    object: pol('short-deferred', (o) => (spec(o).updateStrategy = { resizeDeferredTimeout: '500ms' })),
  },
  {
    name: 'max change 0 percent',
    by: 'schema',
    field: 'spec.updateStrategy.maxChangePercent',
    object: pol('no-change', (o) => (spec(o).updateStrategy = { maxChangePercent: 0 })),
  },
  {
    name: 'interval above 24 hours',
    by: 'cel',
    field: 'spec.reconciliationInterval',
    object: pol('slow-interval', (o) => (spec(o).reconciliationInterval = '25h')),
  },
  {
    name: 'rolling window below 1 hour',
    by: 'cel',
    field: 'spec.metricsConfig.rollingWindow',
    object: pol('short-window', (o) => (at(o, 'spec.metricsConfig').rollingWindow = '59m')),
  },
  {
    name: 'In without values',
    by: 'cel',
    field: 'spec.selector.namespaceSelector.matchExpressions[0].values',
    object: pol('in-no-values', (o) => (at(o, 'spec.selector').namespaceSelector = { matchExpressions: [{ key: 'env', operator: 'In' }] })),
  },
  {
    name: 'Exists with values',
    by: 'cel',
    field: 'spec.selector.workloadSelector.matchExpressions[0].values',
    object: pol('exists-values', (o) => (at(o, 'spec.selector').workloadSelector = { matchExpressions: [{ key: 'env', operator: 'Exists', values: ['x'] }] })),
  },
  {
    name: 'cpu limit multiplier while updating requests only',
    by: 'cel',
    field: 'spec.updateStrategy.cpuLimitMultiplier',
    object: pol('cpu-mult', (o) => (spec(o).updateStrategy = { cpuLimitMultiplier: 2 })),
  },
  {
    name: 'memory limit multiplier while updating requests only',
    by: 'cel',
    field: 'spec.updateStrategy.memoryLimitMultiplier',
    object: pol('mem-mult', (o) => (spec(o).updateStrategy = { updateRequestsOnly: true, memoryLimitMultiplier: 2 })),
  },
];

export { clone };

/** The updateStrategy every policy gets when it sets none (document 003 and issue #15's application rules). */
export const DEFAULT_UPDATE_STRATEGY = {
  allowInPlaceResize: true,
  allowRecreate: false,
  updateRequestsOnly: true,
  changeThresholdPercent: 10,
  maxChangePercent: 50,
  cooldown: '1h',
  memoryMarginPercent: 10,
  minReplicasForRecreate: 2,
  allowSingleReplicaRecreate: false,
  resizeDeferredTimeout: '5m',
} as const;
