/**
 * The OptimizationPolicy CRD manifest of k8s/crds/, loaded as data (tests, sandbox, installers).
 * Uses the file system, so it is not re-exported from ./index.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { CrdManifest } from '../autoscaler/manifests';

export const OPTIMIZATIONPOLICY_CRD_FILE = path.resolve(__dirname, '..', '..', '..', 'k8s', 'crds', 'optipod.io_optimizationpolicies.yaml');

export function loadOptimizationPolicyCrd(): CrdManifest {
  return YAML.parse(fs.readFileSync(OPTIMIZATIONPOLICY_CRD_FILE, 'utf8')) as CrdManifest;
}
