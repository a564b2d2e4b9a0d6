/** The coordination configuration files: what the repository's files say, and the errors a bad file gets. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import {
  CoordinationConfigError,
  DEFAULT_COORDINATOR_CONFIG_FILE,
  DEFAULT_TENANT_TIER_CONFIG_FILE,
  coordinationConfigPaths,
  loadCoordinationConfig,
  parseCoordinationConfig,
  tierLimitsData,
  tierLimitsManifests,
} from '../../../lib/coordination-config';

const coordinatorText = fs.readFileSync(DEFAULT_COORDINATOR_CONFIG_FILE, 'utf8');
const tiersText = fs.readFileSync(DEFAULT_TENANT_TIER_CONFIG_FILE, 'utf8');

/** The tier file with `edit` applied to its parsed document. */
function tiersWith(edit: (doc: { tenantTiers: Record<string, Record<string, Record<string, unknown>>> }) => void): string {
  const doc = YAML.parse(tiersText) as { tenantTiers: Record<string, Record<string, Record<string, unknown>>> };
  edit(doc);
  return YAML.stringify(doc);
}

function refusal(texts: { coordinator?: string; tiers?: string }): CoordinationConfigError {
  try {
    parseCoordinationConfig({ coordinator: texts.coordinator ?? coordinatorText, tiers: texts.tiers ?? tiersText });
  } catch (e) {
    if (e instanceof CoordinationConfigError) return e;
    throw e;
  }
  throw new Error('the configuration was accepted');
}

describe('coordination configuration', () => {
  it("the repository's files are documents 000 and 002, in numbers", () => {
    const c = loadCoordinationConfig();
    expect(c.coordinator).to.deep.equal({
      circuitBreaker: { nodeChurnThreshold: 5, evictionThreshold: 20, resourceOscillationPercent: 30, cooldownMinutes: 30 },
      delays: { vpaUpdateDelayMs: 300_000, napActionDelayMs: 600_000 },
      rateLimiting: { maxVPAUpdatesPerHour: 60, maxVPAUpdatesPerNamespace: 10 },
      monitoring: { metricsIntervalMs: 30_000, healthCheckIntervalMs: 10_000, conflictCheckIntervalMs: 60_000 },
    });
    expect(c.tiers.dev).to.deep.equal({
      vpa: { updateMode: 'Auto', maxResourceChangePercent: 200, cooldownMinutes: 15, coordinationStrategy: 'coordinated' },
      resources: { maxCPU: '2', maxMemory: '4Gi', maxCpuMilli: 2000, maxMemoryBytes: 4 * 2 ** 30 },
      monitoring: { alertSeverity: 'info' },
      nodePool: 'dev-shared',
      circuitBreaker: { nodeChurnPerHour: 10, evictionRatePerMinute: 10, cooldownMinutes: 15 },
    });
    expect(c.tiers.standard.vpa).to.deep.equal({ updateMode: 'Initial', maxResourceChangePercent: 50, cooldownMinutes: 30, coordinationStrategy: 'isolated' });
    expect(c.tiers.standard.resources).to.include({ maxCpuMilli: 8000, maxMemoryBytes: 16 * 2 ** 30 });
    expect(c.tiers.standard).to.include({ nodePool: 'standard-shared' });
    expect(c.tiers.standard.circuitBreaker).to.deep.equal({ nodeChurnPerHour: 5, evictionRatePerMinute: 5, cooldownMinutes: 30 });
    expect(c.tiers.premium.vpa).to.deep.equal({ updateMode: 'Off', maxResourceChangePercent: 0, cooldownMinutes: 60, coordinationStrategy: 'isolated' });
    expect(c.tiers.premium.resources).to.include({ maxCpuMilli: 32_000, maxMemoryBytes: 64 * 2 ** 30 });
    expect(c.tiers.premium).to.include({ nodePool: 'premium-dedicated' });
    expect(c.tiers.premium.circuitBreaker).to.deep.equal({ nodeChurnPerHour: 2, evictionRatePerMinute: 2, cooldownMinutes: 60 });
    expect(c.tiers.premium.monitoring.alertSeverity).to.equal('critical');
  });

  it("keeps document 000's spelling: percentages with %, quoted quantities, quoted durations", () => {
    expect(tiersText)
      .to.match(/maxResourceChange: 200%\n/)
      .and.match(/maxResourceChange: 0%\n/)
      .and.match(/maxCPU: "2"\n/)
      .and.match(/maxMemory: "4Gi"\n/);
    expect(coordinatorText)
      .to.match(/vpaUpdateDelay: "5m"/)
      .and.match(/resourceOscillationPercent: 30/);
  });

  it('names the file and the field of a bad quantity, percentage, duration, mode and bound', () => {
    const e = refusal({
      tiers: tiersWith((d) => {
        d.tenantTiers.dev!.resources!.maxCPU = 'two';
        d.tenantTiers.standard!.vpa!.maxResourceChange = '50 percent';
        d.tenantTiers.premium!.vpa!.updateMode = 'Sometimes';
        d.tenantTiers.premium!.circuitBreaker!.cooldownMinutes = 0;
      }),
      coordinator: coordinatorText.replace('vpaUpdateDelay: "5m"', 'vpaUpdateDelay: "soon"'),
    });
    const at = e.issues.map((i) => `${i.file}: ${i.path}`).sort();
    expect(at).to.deep.equal([
      'coordinator-config.yaml: coordinatorConfig.delays.vpaUpdateDelay',
      'tenant-tier-config.yaml: tenantTiers.dev.resources.maxCPU',
      'tenant-tier-config.yaml: tenantTiers.premium.circuitBreaker.cooldownMinutes',
      'tenant-tier-config.yaml: tenantTiers.premium.vpa.updateMode',
      'tenant-tier-config.yaml: tenantTiers.standard.vpa.maxResourceChange',
    ]);
    expect(e.message)
      .to.include('tenant-tier-config.yaml: tenantTiers.dev.resources.maxCPU: must be a positive Kubernetes quantity')
      .and.include('(got "two")');
    expect(e.message).to.include('tenantTiers.standard.vpa.maxResourceChange: must be a percentage from 0% to 1000%');
  });

  it('refuses a missing tier, an unknown field, and a file that is not YAML', () => {
    expect(refusal({ tiers: tiersWith((d) => delete d.tenantTiers.premium) }).message).to.include('tenantTiers.premium:');
    expect(refusal({ tiers: tiersWith((d) => (d.tenantTiers.dev!.vpa!.maxChange = '10%')) }).message).to.include(
      'tenantTiers.dev.vpa.maxChange: unknown field',
    );
    expect(refusal({ coordinator: 'coordinatorConfig: [' }).issues[0]).to.include({ file: 'coordinator-config.yaml', path: '<root>' });
  });

  it('accepts a bare number for a percentage and a quantity', () => {
    const c = parseCoordinationConfig({
      coordinator: coordinatorText,
      tiers: tiersWith((d) => {
        d.tenantTiers.dev!.vpa!.maxResourceChange = 150;
        d.tenantTiers.dev!.resources!.maxCPU = 3;
      }),
    });
    expect(c.tiers.dev.vpa.maxResourceChangePercent).to.equal(150);
    expect(c.tiers.dev.resources).to.include({ maxCPU: '3', maxCpuMilli: 3000 });
  });

  it('reads the files COORDINATOR_CONFIG and TENANT_TIER_CONFIG name, and says which file cannot be read', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coordination-config-'));
    try {
      const tiers = path.join(dir, 'tiers.yaml');
      fs.writeFileSync(
        tiers,
        tiersWith((d) => (d.tenantTiers.dev!.resources!.maxCPU = '4')),
      );
      expect(coordinationConfigPaths({}, { TENANT_TIER_CONFIG: tiers })).to.deep.equal({ coordinator: DEFAULT_COORDINATOR_CONFIG_FILE, tiers });
      const saved = process.env.TENANT_TIER_CONFIG;
      process.env.TENANT_TIER_CONFIG = tiers;
      try {
        expect(loadCoordinationConfig().tiers.dev.resources.maxCpuMilli).to.equal(4000);
      } finally {
        if (saved === undefined) delete process.env.TENANT_TIER_CONFIG;
        else process.env.TENANT_TIER_CONFIG = saved;
      }
      expect(() => loadCoordinationConfig({ coordinator: path.join(dir, 'missing.yaml') })).to.throw(
        CoordinationConfigError,
        /missing\.yaml: <root>: cannot be read/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('generates the admission parameters from the tiers', () => {
    const tiers = loadCoordinationConfig().tiers;
    const data = tierLimitsData(tiers);
    expect(data).to.include({
      'dev.maxCPU': '2',
      'dev.maxMemory': '4Gi',
      'dev.updateModes': 'Off,Initial,Recreate,InPlaceOrRecreate,InPlace,Auto',
      'standard.updateModes': 'Off,Initial',
      'premium.updateModes': 'Off',
      'premium.optimizationPolicyAuto': 'false',
      'standard.optimizationPolicyAuto': 'true',
      'premium.maxNodeChurnThreshold': '2',
      'premium.maxEvictionThreshold': '20',
      'premium.minBreakerCooldownMinutes': '60',
      'premium.maxResourceChangePercent': '0',
      'dev.minCooldownPeriodMinutes': '15',
    });
    for (const v of Object.values(data)) expect(v).to.be.a('string');
    const [ns, cm] = tierLimitsManifests(tiers);
    expect(ns).to.deep.include({
      kind: 'Namespace',
      metadata: { name: 'platform-system', labels: { 'app.kubernetes.io/part-of': 'vpsie-capacity-orchestrator' } },
    });
    expect(cm).to.deep.include({ kind: 'ConfigMap', data });
    expect((cm.metadata as { name: string; namespace: string }).name).to.equal('tenant-tier-limits');
  });
});
