# shellcheck shell=bash
# Versions shared by the build (hack/testbed.sh) and the real node's images (hack/testbed/realnode.sh): the binary
# built and the image name it is imported under come from one place. kube-prometheus-stack 88.5.3 references
# Prometheus v3.14.0 (Go module v0.314.0) and Prometheus Operator v0.93.1.
PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-v3.14.0}
PROM_OPERATOR_VERSION=${PROM_OPERATOR_VERSION:-v0.93.1}
# The KEDA 2.20.2 chart runs ghcr.io/kedacore/{keda,keda-metrics-apiserver,keda-admission-webhooks}:2.20.2;
# prometheus-adapter chart 5.3.0 runs registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0.
KEDA_VERSION=${KEDA_VERSION:-2.20.2}
PROM_ADAPTER_VERSION=${PROM_ADAPTER_VERSION:-v0.12.0}
# CoreDNS: the version kubeadm v1.35 installs (cmd/kubeadm/app/constants: CoreDNSVersion), as
# registry.k8s.io/coredns/coredns:v1.13.1.
COREDNS_VERSION=${COREDNS_VERSION:-v1.13.1}
# kube-state-metrics: the kube-prometheus-stack 88.5.3 subchart (8.4.0) runs
# registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0 (the pod restart / not-ready alerts read it).
KSM_VERSION=${KSM_VERSION:-v2.20.0}
