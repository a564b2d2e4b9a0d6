/**
 * k8s/crds/platform.io_vpanapcoordinations.yaml is the source of truth; the zod schemas of
 * lib/crds/platform/coordination.ts and the names and vocabularies of lib/crds/platform/constants.ts
 * must say the same thing. These tests fail when a field, a default, an enum value, a bound or a
 * pattern is added to or changed in one and not the other.
 */
import { expect } from 'chai';
import { z } from 'zod';
import * as platform from '../../../../../lib/crds/platform';
import { crdVersion } from '../../../../../lib/crds/autoscaler/manifests';
import { compareSchemas, indexCelRules, normalizeFieldPath } from '../autoscaler/openapi';
import { coordinationSchema, jsonSchema, loadCoordinationCrd, node } from './crd';

const crd = loadCoordinationCrd();
const v = crdVersion(crd, platform.PLATFORM_VERSION);
const schema = coordinationSchema();

describe('VPANAPCoordination CRD and zod schemas agree', () => {
  it('has the names the code uses', () => {
    expect(crd.metadata.name).to.equal(platform.COORDINATION_CRD_NAME);
    expect(crd.spec.group).to.equal(platform.PLATFORM_GROUP);
    expect(crd.spec.scope).to.equal('Namespaced');
    expect(crd.spec.names).to.include({
      kind: platform.COORDINATION_KIND,
      plural: platform.COORDINATION_PLURAL,
      singular: platform.COORDINATION_SINGULAR,
      listKind: `${platform.COORDINATION_KIND}List`,
    });
    expect(crd.spec.names.shortNames).to.deep.equal([platform.COORDINATION_SHORT_NAME]);
    expect(crd.spec.names.categories).to.deep.equal(['platform']);
    expect(crd.spec.versions.map((x) => x.name)).to.deep.equal([platform.PLATFORM_VERSION]);
    expect(v.served && v.storage).to.equal(true);
    expect(v.subresources).to.deep.equal({ status: {} });
  });

  it('has the printer columns of the brief, each pointing at a field of the schema with its type', () => {
    const cols = v.additionalPrinterColumns ?? [];
    expect(cols.filter((c) => c.priority === undefined).map((c) => [c.name, c.jsonPath])).to.deep.equal([
      ['VPA', '.spec.vpaName'],
      ['Strategy', '.spec.coordinationStrategy'],
      ['Phase', '.status.phase'],
      ['Conflicts', '.status.conflictsDetected'],
      ['Breaker', '.status.circuitBreakerTriggered'],
      ['Cooldown-Until', '.status.cooldownUntil'],
      ['Age', '.metadata.creationTimestamp'],
    ]);
    const typeOf = (s: { type?: string; format?: unknown }) => (s.format === 'date-time' ? 'date' : s.type);
    for (const col of cols) {
      if (col.jsonPath === '.metadata.creationTimestamp') continue;
      const field = node(schema, col.jsonPath.replace(/^\./, ''));
      // a time in the future (Cooldown-Until) is printed as the timestamp: a date column would print it as <invalid>
      if (col.name === 'Cooldown-Until') {
        expect([typeOf(field), col.type]).to.deep.equal(['date', 'string']);
        continue;
      }
      expect(typeOf(field), `${col.name} → ${col.jsonPath}`).to.equal(col.type);
    }
  });

  it('the root has the same fields', () => {
    const root = jsonSchema(platform.VPANAPCoordinationSchema) as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(root.properties).sort()).to.deep.equal(Object.keys(schema.properties!).sort());
    expect(schema.required).to.deep.equal(['spec']);
  });

  it('spec: same fields, types, required fields, enums, bounds, patterns and defaults', () => {
    expect(compareSchemas(node(schema, 'spec'), jsonSchema(platform.VPANAPCoordinationSpecSchema), 'spec')).to.deep.equal([]);
  });

  it('status: same fields, types, required fields, enums, bounds, patterns, nullability and list types', () => {
    expect(compareSchemas(node(schema, 'status'), jsonSchema(platform.VPANAPCoordinationStatusSchema), 'status')).to.deep.equal([]);
  });

  it('closed vocabularies are the constants of lib/crds/platform', () => {
    expect(node(schema, 'spec.coordinationStrategy').enum).to.deep.equal([...platform.COORDINATION_STRATEGIES]);
    expect(node(schema, 'status.phase').enum).to.deep.equal([...platform.COORDINATION_PHASES]);
    expect(node(schema, 'status.lastConflictType').enum).to.deep.equal([...platform.CONFLICT_TYPES]);
    expect(node(schema, 'status.circuitBreakerReason').enum).to.deep.equal([...platform.TRIP_REASONS]);
    expect(node(schema, 'status.napEvents[*].event').enum).to.deep.equal([...platform.NAP_EVENT_KINDS]);
    expect(node(schema, 'status.vpaEvents[*].event').enum).to.deep.equal([...platform.VPA_EVENT_KINDS]);
    expect(node(schema, 'status.tenantTier').enum).to.deep.equal([...platform.TENANT_TIERS]);
    expect(node(schema, 'status.napEvents').maxItems).to.equal(platform.STATUS_EVENTS_CAP);
    expect(node(schema, 'status.vpaEvents').maxItems).to.equal(platform.STATUS_EVENTS_CAP);
  });

  it('the bounds are COORDINATION_BOUNDS, and no threshold has a schema default (the configuration supplies them)', () => {
    const at: Record<keyof typeof platform.COORDINATION_BOUNDS, string> = {
      maxResourceChangePercent: 'spec.conflictPrevention.maxResourceChangePercent',
      cooldownPeriodMinutes: 'spec.conflictPrevention.cooldownPeriodMinutes',
      maxConflictsPerHour: 'spec.conflictPrevention.maxConflictsPerHour',
      nodeChurnThreshold: 'spec.circuitBreaker.nodeChurnThreshold',
      evictionThreshold: 'spec.circuitBreaker.evictionThreshold',
      oscillationThreshold: 'spec.circuitBreaker.oscillationThreshold',
      cooldownMinutes: 'spec.circuitBreaker.cooldownMinutes',
    };
    for (const [k, [min, max]] of Object.entries(platform.COORDINATION_BOUNDS)) {
      const f = node(schema, at[k as keyof typeof at]);
      expect([f.minimum, f.maximum, f.default], k).to.deep.equal([min, max, undefined]);
    }
    expect(node(schema, 'spec.coordinationStrategy').default).to.equal(platform.COORDINATION_DEFAULTS.coordinationStrategy);
    expect(node(schema, 'spec.enabled').default).to.equal(platform.COORDINATION_DEFAULTS.enabled);
    expect(node(schema, 'spec.circuitBreaker.enabled').default).to.equal(platform.COORDINATION_DEFAULTS.circuitBreakerEnabled);
  });

  it('every CEL rule names the field it refuses and has the message zod uses', () => {
    const rules = indexCelRules(schema);
    expect(rules.map((r) => r.rule)).to.deep.equal(['self == oldSelf']);
    for (const r of rules) {
      expect(r.named, r.rule).to.equal(normalizeFieldPath(r.target));
      expect(r.reason, r.rule).to.be.oneOf(['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired']);
    }
    expect(rules[0]!.message).to.equal(platform.VPA_NAME_IMMUTABLE_MESSAGE);
    expect(platform.vpaNameChangeIssue({ vpaName: 'a' }, { vpaName: 'b' })).to.deep.equal({
      path: 'spec.vpaName',
      message: platform.VPA_NAME_IMMUTABLE_MESSAGE,
    });
    expect(platform.vpaNameChangeIssue({ vpaName: 'a' }, { vpaName: 'a' })).to.equal(undefined);
  });

  it('the string fields are bounded (CEL cost estimation)', () => {
    const unbounded: string[] = [];
    const walk = (s: typeof schema, at: string): void => {
      if (s.type === 'string' && s.maxLength === undefined && s.enum === undefined && s.format !== 'date-time' && !['apiVersion', 'kind'].includes(at))
        unbounded.push(at);
      for (const [k, sub] of Object.entries(s.properties ?? {})) walk(sub, at === '' ? k : `${at}.${k}`);
      if (s.items) walk(s.items, `${at}[*]`);
      if (s.type === 'array' && s.maxItems === undefined) unbounded.push(at);
    };
    walk(schema, '');
    expect(unbounded).to.deep.equal([]);
  });
});

describe('the agreement check notices drift', () => {
  const spec = node(schema, 'spec');
  const zodSpec = jsonSchema(platform.VPANAPCoordinationSpecSchema);

  it('a field added to zod only, and a default added to the CRD only', () => {
    const wider = jsonSchema(platform.VPANAPCoordinationSpecSchema.safeExtend({ newField: z.string().optional() }));
    expect(compareSchemas(spec, wider, 'spec')).to.deep.equal(['spec.newField: in zod, not in the CRD']);
    const changed = structuredClone(spec);
    changed.properties!.circuitBreaker!.properties!.nodeChurnThreshold!.default = 5;
    expect(compareSchemas(changed, zodSpec, 'spec')).to.deep.equal(['spec.circuitBreaker.nodeChurnThreshold: default differs: CRD 5, zod undefined']);
  });

  it('a nullable field that zod makes non-nullable', () => {
    const status = node(schema, 'status');
    const strict = jsonSchema(platform.VPANAPCoordinationStatusSchema.safeExtend({ cooldownUntil: z.iso.datetime({ offset: true }).optional() }));
    expect(compareSchemas(status, strict, 'status')).to.deep.equal(['status.cooldownUntil: nullable differs: CRD true, zod undefined']);
  });
});
