/**
 * The CRD manifests of k8s/crds/, loaded as data (for tests, the sandbox and installers).
 * Uses the file system, so it is not re-exported from lib/crds/autoscaler/index.ts (workflow code imports that).
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { NODEGROUP_CRD_NAME, VPSIENODE_CRD_NAME } from './constants';

export const CRD_DIR = path.resolve(__dirname, '..', '..', '..', 'k8s', 'crds');
export const CRD_FILES = {
  [NODEGROUP_CRD_NAME]: path.join(CRD_DIR, 'autoscaler.vpsie.com_nodegroups.yaml'),
  [VPSIENODE_CRD_NAME]: path.join(CRD_DIR, 'autoscaler.vpsie.com_vpsienodes.yaml'),
} as const;

/** A JSON-Schema-like node of an openAPIV3Schema; only what readers of it need is typed. */
export interface OpenAPISchema {
  type?: string;
  description?: string;
  properties?: Record<string, OpenAPISchema>;
  additionalProperties?: OpenAPISchema | boolean;
  items?: OpenAPISchema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  'x-kubernetes-validations'?: CelRule[];
  [keyword: string]: unknown;
}

export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: OpenAPISchema };
  subresources?: Record<string, unknown>;
  additionalPrinterColumns?: { name: string; type: string; jsonPath: string; priority?: number }[];
}

export interface CrdManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames?: string[]; listKind?: string; categories?: string[] };
    versions: CrdVersion[];
  };
}

export function loadCrdManifest(name: keyof typeof CRD_FILES): CrdManifest {
  return YAML.parse(fs.readFileSync(CRD_FILES[name], 'utf8')) as CrdManifest;
}

export function crdVersion(crd: CrdManifest, version: string): CrdVersion {
  const v = crd.spec.versions.find((x) => x.name === version);
  if (v === undefined) throw new Error(`${crd.metadata.name} has no version ${version}`);
  return v;
}
