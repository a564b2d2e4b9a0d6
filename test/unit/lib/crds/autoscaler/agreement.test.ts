/**
 * The CRD manifests in k8s/crds/ are the source of truth; the zod schemas in lib/crds/ must say
 * the same thing. These tests fail when a field, a default, an enum value, a bound, a pattern or a
 * list semantic is added to or changed in one and not the other, and when a CEL rule has no
 * invalid sample that zod refuses on the same field.
 */
import { expect } from 'chai';
import { z } from 'zod';
import {
  GROUP,
  JOIN_METHODS,
  NODEGROUP_CONDITION_TYPES,
  NODEGROUP_CRD_NAME,
  NODEGROUP_KIND,
  NODEGROUP_PLURAL,
  NODEGROUP_REASONS,
  NODEGROUP_REASONS_BY_CONDITION,
  NODEGROUP_SHORT_NAME,
  NODEGROUP_SINGULAR,
  NodeGroupSchema,
  NodeGroupSpecSchema,
  NodeGroupStatusSchema,
  PHASE_TIME_KEYS,
  TAINT_EFFECTS,
  VERSION,
  VPSIENODE_CONDITION_TYPES,
  VPSIENODE_CRD_NAME,
  VPSIENODE_ERROR_REASONS,
  VPSIENODE_KIND,
  VPSIENODE_PHASES,
  VPSIENODE_PLURAL,
  VPSIENODE_REASONS,
  VPSIENODE_REASONS_BY_CONDITION,
  VPSIENODE_SHORT_NAME,
  VPSIENODE_SINGULAR,
  VPSieNodeSchema,
  VPSieNodeSpecSchema,
  VPSieNodeStatusSchema,
} from '../../../../../lib/crds/autoscaler';
import { crdVersion, loadCrdManifest, type CrdManifest, type OpenAPISchema } from '../../../../../lib/crds/autoscaler/manifests';
import { INVALID_NODEGROUPS, INVALID_VPSIENODES, VPSIENODE_UPDATES } from '../../../../support/crd-samples';
import { compareSchemas, indexCelRules, normalizeFieldPath, type JsonSchema } from './openapi';

const jsonSchema = (s: z.ZodType): JsonSchema => z.toJSONSchema(s, { io: 'input' }) as JsonSchema;

/** Follows a dotted path (`spec.scaleUpPolicy`, `status.conditions[*].reason`) in an OpenAPI schema. */
function node(root: OpenAPISchema, dotted: string): OpenAPISchema {
  let cur = root;
  for (const part of dotted.split('.')) {
    const name = part.replace(/\[\*\]$/, '');
    const next = cur.properties?.[name];
    if (!next) throw new Error(`no ${dotted} in the CRD schema (stuck at ${part})`);
    cur = part.endsWith('[*]') ? next.items! : next;
  }
  return cur;
}

interface Case {
  kind: string;
  crd: CrdManifest;
  crdName: string;
  plural: string;
  singular: string;
  shortName: string;
  root: z.ZodType;
  spec: z.ZodType;
  status: z.ZodType;
}

const CASES: Case[] = [
  {
    kind: NODEGROUP_KIND,
    crd: loadCrdManifest(NODEGROUP_CRD_NAME),
    crdName: NODEGROUP_CRD_NAME,
    plural: NODEGROUP_PLURAL,
    singular: NODEGROUP_SINGULAR,
    shortName: NODEGROUP_SHORT_NAME,
    root: NodeGroupSchema,
    spec: NodeGroupSpecSchema,
    status: NodeGroupStatusSchema,
  },
  {
    kind: VPSIENODE_KIND,
    crd: loadCrdManifest(VPSIENODE_CRD_NAME),
    crdName: VPSIENODE_CRD_NAME,
    plural: VPSIENODE_PLURAL,
    singular: VPSIENODE_SINGULAR,
    shortName: VPSIENODE_SHORT_NAME,
    root: VPSieNodeSchema,
    spec: VPSieNodeSpecSchema,
    status: VPSieNodeStatusSchema,
  },
];

for (const c of CASES) {
  describe(`${c.kind} CRD and zod schemas agree`, () => {
    const v = crdVersion(c.crd, VERSION);
    const schema = v.schema.openAPIV3Schema;

    it('has the names the code uses', () => {
      expect(c.crd.metadata.name).to.equal(c.crdName);
      expect(c.crd.spec.group).to.equal(GROUP);
      expect(c.crd.spec.scope).to.equal('Namespaced');
      expect(c.crd.spec.names).to.include({ kind: c.kind, plural: c.plural, singular: c.singular, listKind: `${c.kind}List` });
      expect(c.crd.spec.names.shortNames).to.deep.equal([c.shortName]);
      expect(c.crd.spec.versions.map((x) => x.name)).to.deep.equal([VERSION]);
      expect(v.served && v.storage).to.equal(true);
      expect(v.subresources).to.have.property('status');
    });

    it('has printer columns that point at fields of the schema', () => {
      const cols = v.additionalPrinterColumns ?? [];
      expect(cols.length).to.be.greaterThan(3);
      for (const col of cols) {
        if (col.jsonPath === '.metadata.creationTimestamp') continue;
        const dotted = col.jsonPath.replace(/^\./, '').replace(/\[\?\(@\.type=="(\w+)"\)\]/, '[*]');
        if (col.jsonPath.includes('[?(')) {
          const cond = col.jsonPath.match(/@\.type=="(\w+)"/)![1]!;
          expect(node(schema, 'status.conditions[*].type').enum, col.name).to.include(cond);
        }
        expect(() => node(schema, dotted), `${col.name} → ${col.jsonPath}`).not.to.throw();
      }
    });

    it('the root has the same fields', () => {
      const z = jsonSchema(c.root) as { properties: Record<string, unknown>; required: string[] };
      expect(Object.keys(z.properties).sort()).to.deep.equal(Object.keys(schema.properties!).sort());
      expect([...z.required].sort()).to.deep.equal(['apiVersion', 'kind', 'metadata', 'spec']);
      expect(schema.required).to.deep.equal(['spec']);
    });

    it('spec: same fields, types, required fields, enums, bounds, patterns, list types and defaults', () => {
      expect(compareSchemas(node(schema, 'spec'), jsonSchema(c.spec), 'spec')).to.deep.equal([]);
    });

    it('status: same fields, types, required fields, enums, bounds, patterns, list types and defaults', () => {
      expect(compareSchemas(node(schema, 'status'), jsonSchema(c.status), 'status')).to.deep.equal([]);
    });

    it('every CEL message starts with the field it refuses', () => {
      for (const r of indexCelRules(schema)) {
        if (r.location === '<root>') expect(r.named, r.rule).to.match(/^metadata\./);
        else expect(r.named, r.rule).to.equal(normalizeFieldPath(r.target));
        expect(r.reason, r.rule).to.be.oneOf(['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate']);
      }
    });

    it('every CEL rule has an invalid sample that zod refuses on the same field', () => {
      const samples = c.kind === NODEGROUP_KIND ? INVALID_NODEGROUPS : INVALID_VPSIENODES;
      const celFields = new Set(samples.filter((s) => s.by === 'cel').map((s) => normalizeFieldPath(s.field)));
      const updateFields = new Set(VPSIENODE_UPDATES.flatMap((u) => (u.field ? [u.field] : [])));
      for (const r of indexCelRules(schema)) {
        if (r.transition) expect(updateFields, `transition rule ${r.rule}`).to.include(r.named);
        else expect(celFields, `rule ${r.rule}`).to.include(r.named);
      }
    });
  });
}

describe('closed vocabularies in the CRDs are the constants of lib/crds', () => {
  const ng = crdVersion(loadCrdManifest(NODEGROUP_CRD_NAME), VERSION).schema.openAPIV3Schema;
  const vn = crdVersion(loadCrdManifest(VPSIENODE_CRD_NAME), VERSION).schema.openAPIV3Schema;

  it('VPSieNode phases', () => {
    expect(node(vn, 'status.phase').enum).to.deep.equal([...VPSIENODE_PHASES]);
    expect(node(vn, 'status.lastError.phase').enum).to.deep.equal([...VPSIENODE_PHASES]);
    expect(node(ng, 'status.nodeList[*].status').enum).to.deep.equal([...VPSIENODE_PHASES]);
    expect(Object.keys(node(vn, 'status.phaseTimes').properties!)).to.deep.equal(Object.values(PHASE_TIME_KEYS));
  });

  it('condition types and reasons', () => {
    expect(node(ng, 'status.conditions[*].type').enum).to.deep.equal([...NODEGROUP_CONDITION_TYPES]);
    expect(node(ng, 'status.conditions[*].reason').enum).to.deep.equal([...NODEGROUP_REASONS]);
    expect(node(vn, 'status.conditions[*].type').enum).to.deep.equal([...VPSIENODE_CONDITION_TYPES]);
    expect(node(vn, 'status.conditions[*].reason').enum).to.deep.equal([...VPSIENODE_REASONS]);
    expect(node(vn, 'status.lastError.reason').enum).to.deep.equal([...VPSIENODE_ERROR_REASONS]);
  });

  it('every reason is used by some condition type, and no reason is listed twice', () => {
    const ngUsed = new Set(Object.values(NODEGROUP_REASONS_BY_CONDITION).flat());
    expect([...ngUsed].sort()).to.deep.equal([...NODEGROUP_REASONS].sort());
    expect(new Set(NODEGROUP_REASONS).size).to.equal(NODEGROUP_REASONS.length);
    const vnUsed = new Set<string>(Object.values(VPSIENODE_REASONS_BY_CONDITION).flat());
    for (const r of VPSIENODE_REASONS) expect(vnUsed.has(r) || (VPSIENODE_ERROR_REASONS as readonly string[]).includes(r), r).to.equal(true);
    expect(new Set(VPSIENODE_REASONS).size).to.equal(VPSIENODE_REASONS.length);
  });

  it('taint effects and join methods', () => {
    expect(node(ng, 'spec.taints[*].effect').enum).to.deep.equal([...TAINT_EFFECTS]);
    expect(node(ng, 'spec.join.method').enum).to.deep.equal([...JOIN_METHODS]);
    expect(node(vn, 'spec.join.method').enum).to.deep.equal([...JOIN_METHODS]);
    expect(node(ng, 'status.joinMethod').enum).to.deep.equal([...JOIN_METHODS]);
  });
});

describe('the agreement check notices drift', () => {
  const spec = node(crdVersion(loadCrdManifest(NODEGROUP_CRD_NAME), VERSION).schema.openAPIV3Schema, 'spec');
  const zodSpec = jsonSchema(NodeGroupSpecSchema);

  it('a field added to the CRD only', () => {
    const changed = structuredClone(spec);
    changed.properties!.newField = { type: 'string' };
    expect(compareSchemas(changed, zodSpec, 'spec')).to.deep.equal(['spec.newField: in the CRD, not in zod']);
  });

  it('a field added to zod only', () => {
    const changed = jsonSchema(NodeGroupSpecSchema.safeExtend({ newField: z.string().optional() }));
    expect(compareSchemas(spec, changed, 'spec')).to.deep.equal(['spec.newField: in zod, not in the CRD']);
  });

  it('a changed default, bound, enum value or required field', () => {
    const changed = structuredClone(spec);
    changed.properties!.scaleDownPolicy!.properties!.cooldownSeconds!.default = 300;
    changed.properties!.maxNodes!.maximum = 1000;
    changed.properties!.taints!.items!.properties!.effect!.enum = ['NoSchedule'];
    changed.required = ['minNodes'];
    const diffs = compareSchemas(changed, zodSpec, 'spec');
    expect(diffs).to.have.length(4);
    expect(diffs.join('\n'))
      .to.match(/cooldownSeconds: default/)
      .and.match(/maxNodes: maximum/)
      .and.match(/effect: enum/)
      .and.match(/spec: required/);
  });

  it('a type change and a lost list type', () => {
    const changed = structuredClone(spec);
    changed.properties!.priority!.type = 'string';
    delete changed.properties!.offeringIDs!['x-kubernetes-list-type'];
    const diffs = compareSchemas(changed, zodSpec, 'spec').join('\n');
    expect(diffs)
      .to.match(/spec\.priority: type differs/)
      .and.match(/spec\.offeringIDs: x-kubernetes-list-type differs/);
  });
});

// ---- OptiPod: OptimizationPolicy (optipod.io) ----------------------------------------------
import * as optipod from '../../../../../lib/crds/optipod';
import { loadOptimizationPolicyCrd } from '../../../../../lib/crds/optipod/manifest';
import { INVALID_POLICIES } from '../../../../support/optimizationpolicy-samples';

describe('OptimizationPolicy CRD and zod schemas agree', () => {
  const crd = loadOptimizationPolicyCrd();
  const v = crdVersion(crd, optipod.OPTIPOD_VERSION);
  const schema = v.schema.openAPIV3Schema;

  it('has the names the code uses, and printer columns that point at fields of the schema', () => {
    expect(crd.metadata.name).to.equal(optipod.OPTIMIZATIONPOLICY_CRD_NAME);
    expect(crd.spec.group).to.equal(optipod.OPTIPOD_GROUP);
    expect(crd.spec.scope).to.equal('Namespaced');
    expect(crd.spec.names).to.include({
      kind: optipod.OPTIMIZATIONPOLICY_KIND,
      plural: optipod.OPTIMIZATIONPOLICY_PLURAL,
      singular: optipod.OPTIMIZATIONPOLICY_SINGULAR,
    });
    expect(crd.spec.names.shortNames).to.deep.equal([optipod.OPTIMIZATIONPOLICY_SHORT_NAME]);
    expect(v.served && v.storage).to.equal(true);
    expect(v.subresources).to.have.property('status');
    const cols = v.additionalPrinterColumns ?? [];
    expect(cols.filter((c) => c.priority === undefined).map((c) => c.name)).to.include.members(['Mode', 'Workloads', 'Recommended', 'Applied', 'Skipped']);
    for (const col of cols) {
      if (col.jsonPath === '.metadata.creationTimestamp') continue;
      const dotted = col.jsonPath.replace(/^\./, '').replace(/\[\?\(@\.type=="(\w+)"\)\]/, '[*]');
      expect(() => node(schema, dotted), `${col.name} → ${col.jsonPath}`).not.to.throw();
    }
  });

  it('the root, spec and status have the same fields, types, enums, bounds, patterns, list types and defaults', () => {
    const root = jsonSchema(optipod.OptimizationPolicySchema) as { properties: Record<string, unknown> };
    expect(Object.keys(root.properties).sort()).to.deep.equal(Object.keys(schema.properties!).sort());
    expect(compareSchemas(node(schema, 'spec'), jsonSchema(optipod.OptimizationPolicySpecSchema), 'spec')).to.deep.equal([]);
    expect(compareSchemas(node(schema, 'status'), jsonSchema(optipod.OptimizationPolicyStatusSchema), 'status')).to.deep.equal([]);
  });

  it('closed vocabularies are the constants of lib/crds/optipod', () => {
    expect(node(schema, 'spec.mode').enum).to.deep.equal([...optipod.POLICY_MODES]);
    expect(node(schema, 'spec.metricsConfig.percentile').enum).to.deep.equal([...optipod.PERCENTILES]);
    expect(node(schema, 'spec.metricsConfig.provider').enum).to.deep.equal([...optipod.METRICS_PROVIDERS]);
    expect(node(schema, 'spec.selector.workloadTypes.include[*]').enum).to.deep.equal([...optipod.WORKLOAD_KINDS]);
    expect(node(schema, 'status.conditions[*].reason').enum).to.deep.equal([...optipod.POLICY_READY_REASONS]);
    expect(node(schema, 'status.workloads[*].skipReason').enum).to.deep.equal([...optipod.SKIP_REASONS]);
    expect(node(schema, 'status.workloads[*].outcome').enum).to.deep.equal([...optipod.WORKLOAD_OUTCOMES]);
    expect(node(schema, 'status.workloads').maxItems).to.equal(optipod.STATUS_MAX_WORKLOADS);
    expect(node(schema, 'status.workloads[*].containers').maxItems).to.equal(optipod.STATUS_MAX_CONTAINERS);
  });

  it('every CEL message starts with the field it refuses, and every CEL rule has an invalid sample zod refuses on that field', () => {
    const celFields = new Set(INVALID_POLICIES.filter((s) => s.by === 'cel').map((s) => normalizeFieldPath(s.field)));
    const rules = indexCelRules(schema);
    expect(rules.length).to.be.greaterThan(5);
    for (const r of rules) {
      expect(r.named, r.rule).to.equal(normalizeFieldPath(r.target));
      expect(r.reason, r.rule).to.be.oneOf(['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate']);
      expect(celFields, `rule ${r.rule}`).to.include(r.named);
    }
  });
});
