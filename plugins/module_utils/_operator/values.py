# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Derive NVIDIA GPU Operator Helm values from what the nodes really have.

The decisions that make a host driver and the operator stop fighting live here, not in Jinja:

* a node whose driver is already loaded (``gpu_facts``) gets ``driver.enabled: false``;
* a node prepared by the ``gpu_node`` role (toolkit installed, runtime configured) gets
  ``toolkit.enabled: false``, so the operator does not rewrite the containerd config a second time;
* MIG strategy and time-slicing become ``mig.strategy`` / ``migManager`` / ``devicePlugin.config``;
* air-gapped sites point every component image at one internal registry.

Keys are the chart's real ones (NVIDIA gpu-operator ``deployments/gpu-operator/values.yaml``).
"""

from __future__ import annotations

import re

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._merge import deep_merge

#: chart components whose image ``repository`` a private registry replaces
IMAGE_COMPONENTS = (
    "operator", "validator", "driver", "toolkit", "devicePlugin", "dcgm", "dcgmExporter",
    "gfd", "migManager", "nodeStatusExporter", "gds", "gdrcopy", "vgpuManager",
    "vgpuDeviceManager", "vfioManager", "sandboxDevicePlugin", "kataSandboxDevicePlugin", "kataManager", "ccManager",
    "driver.manager", "vgpuManager.driverManager", "vfioManager.driverManager",
)
#: subchart images given as a full repository path (image name included): value path -> image name
FULL_PATH_IMAGES = {"node-feature-discovery.image": "node-feature-discovery"}
MIG_STRATEGIES = ("none", "single", "mixed")
#: the chart release this collection is tested with (shared/charts/gpu-operator-v26.7.0.tgz)
CHART_NAME = "gpu-operator"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$")
RUNTIMES = ("containerd", "crio", "docker")


def node_view(facts):
    """One node's operator-relevant facts, from either form a caller has.

    * the full ``ansible_facts.llmops_gpu`` dict that ``gpu_facts`` returns (``driver.loaded``,
      ``driver.version``, ``runtimes.nvidia_ctk.present``, ``summary.mig_enabled``), or
    * a flat dict with ``driver_loaded``, ``driver_version``, ``toolkit_installed``, ``mig_enabled``.
    """
    if isinstance(facts.get("driver"), dict):
        ctk = (facts.get("runtimes") or {}).get("nvidia_ctk") or {}
        return {
            "driver_loaded": bool(facts["driver"].get("loaded")),
            "driver_version": facts["driver"].get("version"),
            "toolkit_installed": bool(ctk.get("present")),
            "mig_enabled": bool((facts.get("summary") or {}).get("mig_enabled")),
        }
    return facts


def summarize_nodes(node_facts):
    """Reduce per-node facts (see ``node_view``) to what the operator values depend on."""
    nodes = [node_view(n) for n in (node_facts or [])]
    loaded = [bool(n.get("driver_loaded")) for n in nodes]
    return {
        "nodes": len(nodes),
        "all_drivers_loaded": bool(nodes) and all(loaded),
        "some_drivers_loaded": any(loaded),
        "driver_versions": sorted({str(n["driver_version"]) for n in nodes if n.get("driver_version")}),
        "all_toolkits_installed": bool(nodes) and all(bool(n.get("toolkit_installed")) for n in nodes),
        "any_mig_enabled": any(bool(n.get("mig_enabled")) for n in nodes),
    }


def operator_values(node_facts=None, driver="auto", toolkit="auto", runtime="containerd", cdi=True,
                    mig_strategy="none", time_slicing_replicas=0, image_registry=None,
                    dcgm_exporter_service_monitor=True, extra_values=None, driver_version=""):
    """Return ``(values, decisions)`` for the gpu-operator chart.

    ``driver``/``toolkit``: ``"auto"`` (decide from facts), ``"operator"`` (the operator manages it)
    or ``"host"`` (the host manages it). ``decisions`` is a list of sentences saying why.
    """
    for name, value, allowed in (("gpu_operator_driver", driver, ("auto", "operator", "host")),
                                 ("gpu_operator_toolkit", toolkit, ("auto", "operator", "host")),
                                 ("gpu_operator_runtime", runtime, RUNTIMES),
                                 ("gpu_operator_mig_strategy", mig_strategy, MIG_STRATEGIES)):
        if value not in allowed:
            raise LlmopsError("%s=%r is not supported; use one of %s" % (name, value, list(allowed)))
    if not isinstance(time_slicing_replicas, int) or time_slicing_replicas < 0 or time_slicing_replicas == 1:
        raise LlmopsError("gpu_operator_time_slicing_replicas=%r is invalid; use 0 (off) or an integer >= 2"
                          % (time_slicing_replicas,))
    if time_slicing_replicas and mig_strategy == "mixed":
        raise LlmopsError("gpu_operator_time_slicing_replicas=%d cannot be combined with gpu_operator_mig_strategy=mixed;"
                          " use mig_strategy single or none" % time_slicing_replicas)

    summary = summarize_nodes(node_facts)
    decisions = []
    if driver == "auto":
        if summary["some_drivers_loaded"] and not summary["all_drivers_loaded"]:
            raise LlmopsError(
                "the NVIDIA driver is loaded on some GPU nodes but not on others; the operator cannot manage a mixed fleet."
                " Install the driver on every node (gpu_node_driver_install: true) or set gpu_operator_driver=operator"
                " after removing the host drivers")
        driver = "host" if summary["all_drivers_loaded"] else "operator"
        decisions.append(
            "driver: host driver %s loaded on all %d node(s), operator driver disabled" % (
                "/".join(summary["driver_versions"]) or "?", summary["nodes"])
            if driver == "host" else "driver: no host driver loaded, the operator installs it")
    if toolkit == "auto":
        toolkit = "host" if summary["all_toolkits_installed"] else "operator"
        decisions.append("toolkit: %s" % ("installed on every node by gpu_node, operator toolkit disabled"
                                          if toolkit == "host" else "the operator installs the container toolkit"))

    # ``runtime`` is checked but not emitted: the v26 chart no longer renders operator.defaultRuntime and the
    # ClusterPolicy CRD marks it deprecated (the operator detects each node's runtime itself)
    values = {
        "driver": {"enabled": driver == "operator"},
        "toolkit": {"enabled": toolkit == "operator"},
        "cdi": {"enabled": bool(cdi)},
        "dcgmExporter": {"enabled": True, "serviceMonitor": {"enabled": bool(dcgm_exporter_service_monitor)}},
        "mig": {"strategy": "single" if mig_strategy == "none" else mig_strategy},
        "migManager": {"enabled": mig_strategy != "none"},
    }
    if driver_version:
        driver_version_key(driver_version)
        if driver == "operator":
            values["driver"]["version"] = str(driver_version)
            decisions.append("driver: version %s (gpu_operator_driver_version)" % driver_version)
        else:
            decisions.append("driver: gpu_operator_driver_version=%s not used: the host manages the driver" % driver_version)
    if time_slicing_replicas:
        values["devicePlugin"] = {"config": {"name": "llmops-time-slicing", "default": "any"}}
        decisions.append("time-slicing: each GPU advertised %d times through ConfigMap llmops-time-slicing"
                         % time_slicing_replicas)
    if image_registry:
        registry = image_registry.rstrip("/")
        for comp in IMAGE_COMPONENTS:
            _at(values, comp)["repository"] = registry
        for path, image in FULL_PATH_IMAGES.items():
            _at(values, path)["repository"] = "%s/%s" % (registry, image)
        decisions.append("images: every component pulled from %s (air-gapped mirror)" % registry)
    return deep_merge(values, extra_values), decisions


def _at(values, path):
    """The dict at a dotted path of ``values``, created on the way."""
    node = values
    for key in path.split("."):
        node = node.setdefault(key, {})
    return node


def time_slicing_config(replicas):
    """The device plugin config (``sharing.timeSlicing``) for the ConfigMap the chart references."""
    return {
        "version": "v1",
        "flags": {"migStrategy": "none"},
        "sharing": {"timeSlicing": {"renameByDefault": False, "failRequestsGreaterThanOne": True,
                                    "resources": [{"name": "nvidia.com/gpu", "replicas": int(replicas)}]}},
    }


def chart_version_key(version, what="gpu_operator_chart_version"):
    """(major, minor, patch) of a chart version such as ``v26.7.0`` or ``25.10.1``."""
    match = _VERSION.match(str(version or "").strip())
    if not match:
        raise LlmopsError("%s=%r is not a chart version; use the form v26.7.0 (the GPU Operator's releases)"
                          % (what, version))
    return tuple(int(g) for g in match.groups())


def chart_version_of(chart_label):
    """The version in a ``helm.sh/chart`` label or a Helm release's chart field (``gpu-operator-v26.7.0``)."""
    label = str(chart_label or "")
    prefix = CHART_NAME + "-"
    if not label.startswith(prefix):
        raise LlmopsError("chart %r is not the NVIDIA %s chart" % (label, CHART_NAME))
    return label[len(prefix):]


def chart_upgrade_check(deployed_chart, target_version, chart_ref=""):
    """Decide an install, upgrade or re-apply of the chart; refuse a downgrade.

    ``deployed_chart``: the release's chart (``gpu-operator-v26.7.0``) or empty when none is installed.
    Returns a sentence for the decisions list; raises ``LlmopsError`` for a downgrade: the operator's CRDs
    and the ClusterPolicy written by the newer release are not guaranteed to be readable by an older
    operator, and Helm would not roll the CRDs back.
    """
    target = chart_version_key(target_version)
    if not deployed_chart:
        return "chart: install %s %s" % (CHART_NAME, target_version)
    deployed_version = chart_version_of(deployed_chart)
    deployed = chart_version_key(deployed_version, what="the deployed release's chart version")
    if target < deployed:
        raise LlmopsError(
            "gpu_operator_chart_version=%s%s is older than the deployed release (%s %s): downgrading the GPU "
            "Operator is refused, because Helm does not roll back the CRDs the newer chart installed and the "
            "older operator may not read the ClusterPolicy the newer one wrote. Keep %s (or newer), or "
            "uninstall the release (gpu_operator_state=absent) before installing the older chart"
            % (target_version, " (%s)" % chart_ref if chart_ref else "", CHART_NAME, deployed_version,
               deployed_version))
    if target > deployed:
        return "chart: upgrade %s %s -> %s" % (CHART_NAME, deployed_version, target_version)
    return "chart: %s %s already deployed (values re-applied if they changed)" % (CHART_NAME, deployed_version)


_DRIVER_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")


def driver_version_key(version, what="gpu_operator_driver_version"):
    """(branch, minor, patch) of an NVIDIA driver version such as ``595.91.07`` or ``580.105``."""
    match = _DRIVER_VERSION.match(str(version or "").strip())
    if not match:
        raise LlmopsError("%s=%r is not an NVIDIA driver version; use the form 595.91.07 (a driver the operator's "
                          "driver image is published for)" % (what, version))
    return tuple(int(g or 0) for g in match.groups())


def driver_upgrade_check(live_policy, rendered_policy, allow_downgrade=False):
    """Decide what the operator-managed driver does when this release is applied; refuse a downgrade.

    ``live_policy`` / ``rendered_policy``: the ClusterPolicy in the cluster (``{}`` when none) and the one the chart
    renders for this run. The GPU Operator's upgrade controller rolls a changed ``spec.driver.version`` node by node
    under ``spec.driver.upgradePolicy`` (cordon, wait for GPU pods, drain, new driver pod). Going to an older driver
    is refused unless ``allow_downgrade``: a driver older than the CUDA of the images on the nodes fails every
    CUDA container (``CUDA driver version is insufficient for CUDA runtime version``).
    """
    live = ((live_policy or {}).get("spec") or {}).get("driver") or {}
    new = ((rendered_policy or {}).get("spec") or {}).get("driver") or {}
    if not new.get("enabled", True):
        return "driver: host-managed (the operator does not install one)"
    target = str(new.get("version") or "")
    if not live or not live.get("enabled", True) or not live.get("version"):
        return "driver: the operator installs %s" % (target or "the chart's default driver")
    deployed = str(live["version"])
    if not target or driver_version_key(target, "the rendered driver.version") == \
            driver_version_key(deployed, "the deployed driver.version"):
        return "driver: %s already set (no driver change)" % deployed
    policy = new.get("upgradePolicy") or {}
    how = "node by node (maxParallelUpgrades %s, drain %s)" % (
        policy.get("maxParallelUpgrades", 1), "on" if (policy.get("drain") or {}).get("enable") else "off")
    if driver_version_key(target, "the rendered driver.version") < driver_version_key(deployed, "the deployed driver.version"):
        if not allow_downgrade:
            raise LlmopsError(
                "gpu_operator_driver_version=%s is older than the driver the cluster runs (%s): a driver downgrade is "
                "refused, because every CUDA container whose CUDA is newer than the older driver supports fails with "
                "'CUDA driver version is insufficient for CUDA runtime version'. Keep %s or newer, or set "
                "gpu_operator_allow_driver_downgrade=true after checking the CUDA of the images you run"
                % (target, deployed, deployed))
        return "driver: downgrade %s -> %s (allowed), rolled %s" % (deployed, target, how)
    return "driver: upgrade %s -> %s, rolled %s by the operator's upgrade controller" % (deployed, target, how)
