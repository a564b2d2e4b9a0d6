/**
 * The bootstrap template: cloud-init user data that makes a plain VPSie VM join the cluster when
 * it boots. Format documented in BOOTSTRAP.md. The VM's cloud-init writes the join configuration
 * to `/etc/vpsie-orchestrator/join.json` and runs kubeadm with it; the simulator reads the same
 * file entry to decide whether (and how) the machine joins.
 */
import { stringify } from 'yaml';
import { JOIN_CONFIG_PATH, JoinConfigSchema, type JoinConfig, type JoinConfigInput } from './schemas';

export { JOIN_CONFIG_PATH };

export type BootstrapInput = Omit<JoinConfigInput, 'apiVersion' | 'kind'>;

/** kubelet flag value for `--node-labels`. */
export function nodeLabelsFlag(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** kubelet flag value for `--register-with-taints`. */
export function taintsFlag(taints: JoinConfig['taints']): string {
  return taints.map((t) => `${t.key}${t.value !== undefined ? `=${t.value}` : ''}:${t.effect}`).join(',');
}

/** Renders the `#cloud-config` document (plain text). */
export function renderBootstrapCloudConfig(input: BootstrapInput): string {
  const cfg = JoinConfigSchema.parse({ apiVersion: 'orchestrator.vpsie.com/v1', kind: 'JoinConfiguration', ...input });
  const kubeletArgs: Record<string, string> = { ...cfg.kubeletExtraArgs };
  if (Object.keys(cfg.nodeLabels).length > 0) kubeletArgs['node-labels'] = nodeLabelsFlag(cfg.nodeLabels);
  if (cfg.taints.length > 0) kubeletArgs['register-with-taints'] = taintsFlag(cfg.taints);
  const doc = {
    write_files: [
      { path: JOIN_CONFIG_PATH, owner: 'root:root', permissions: '0600', content: `${JSON.stringify(cfg, null, 2)}\n` },
      {
        path: '/etc/default/kubelet',
        permissions: '0644',
        content: `KUBELET_EXTRA_ARGS=${Object.entries(kubeletArgs)
          .map(([k, v]) => `--${k}=${v}`)
          .join(' ')}\n`,
      },
    ],
    runcmd: [
      [
        'sh',
        '-c',
        [
          'set -eu',
          `APISERVER=$(jq -r .apiServer ${JOIN_CONFIG_PATH} | sed -e 's#^https://##')`,
          `TOKEN=$(jq -r .bootstrapToken ${JOIN_CONFIG_PATH})`,
          `HASHES=$(jq -r '.caCertHashes | map("--discovery-token-ca-cert-hash " + .) | join(" ")' ${JOIN_CONFIG_PATH})`,
          `HASHES=\${HASHES:---discovery-token-unsafe-skip-ca-verification}`,
          // The version the NodeGroup asks for: kubelet and kubeadm of that version before joining.
          `VERSION=$(jq -r '.kubernetesVersion // empty' ${JOIN_CONFIG_PATH} | sed -e 's#^v##')`,
          'if [ -n "$VERSION" ] && command -v apt-get >/dev/null; then apt-get install -y --allow-downgrades --allow-change-held-packages "kubelet=$VERSION*" "kubeadm=$VERSION*"; fi',
          'kubeadm join "$APISERVER" --token "$TOKEN" $HASHES --node-name "$(hostname)"',
        ].join('\n'),
      ],
    ],
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

/** Renders the user data as VPSie expects it in `userData`: base64 of the cloud-config. */
export function renderBootstrapUserData(input: BootstrapInput): string {
  return Buffer.from(renderBootstrapCloudConfig(input), 'utf8').toString('base64');
}
