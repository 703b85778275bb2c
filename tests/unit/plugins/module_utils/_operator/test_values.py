"""GPU Operator values derived from node facts (plugins/module_utils/_operator/values.py)."""

import pytest

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._operator import values as _values
from ansible_collections.llmops.vllm_serving.plugins.module_utils._operator.values import (
    operator_values,
    time_slicing_config,
)

HOST = {"driver_loaded": True, "driver_version": "580.159.04", "toolkit_installed": True}
BARE = {"driver_loaded": False, "toolkit_installed": False}


@pytest.mark.parametrize(
    "facts, driver_enabled, toolkit_enabled",
    [
        ([HOST, HOST], False, False),  # gpu_node prepared every node: the operator keeps its hands off
        ([BARE, BARE], True, True),  # bare nodes: the operator installs both
        ([], True, True),  # no facts: the operator's defaults
        ([dict(HOST, toolkit_installed=False), HOST], False, True),
    ],
)
def test_driver_and_toolkit_follow_the_facts(facts, driver_enabled, toolkit_enabled):
    values, decisions = operator_values(facts)
    assert values["driver"]["enabled"] is driver_enabled
    assert values["toolkit"]["enabled"] is toolkit_enabled
    assert any(d.startswith("driver:") for d in decisions)


def test_mixed_driver_fleet_is_refused_with_the_way_out():
    with pytest.raises(LlmopsError, match="loaded on some GPU nodes but not on others.*gpu_node_driver_install"):
        operator_values([HOST, BARE])


def test_forced_choices_win_over_facts():
    values, _decisions = operator_values([BARE], driver="host", toolkit="host")
    assert values["driver"]["enabled"] is False and values["toolkit"]["enabled"] is False


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mig_strategy": "all"}, "gpu_operator_mig_strategy='all' is not supported; use one of"),
        ({"runtime": "podman"}, "gpu_operator_runtime='podman'"),
        ({"time_slicing_replicas": 1}, "use 0 \\(off\\) or an integer >= 2"),
        ({"time_slicing_replicas": 2, "mig_strategy": "mixed"}, "cannot be combined"),
        ({"driver": "yes"}, "gpu_operator_driver='yes'"),
    ],
)
def test_bad_input_names_the_value(kwargs, message):
    with pytest.raises(LlmopsError, match=message):
        operator_values([HOST], **kwargs)


def test_air_gapped_registry_and_extra_values():
    values, decisions = operator_values(
        [HOST], image_registry="registry.local:5000/nvidia/", extra_values={"driver": {"version": "580"}, "nfd": {"enabled": False}}
    )
    assert values["validator"]["repository"] == "registry.local:5000/nvidia"
    assert values["driver"] == {"enabled": False, "repository": "registry.local:5000/nvidia", "version": "580",
                                "manager": {"repository": "registry.local:5000/nvidia"}}
    # the driver manager, vGPU/VFIO managers' driver managers and NFD's image (full path) come from the mirror too
    assert values["vfioManager"]["driverManager"] == {"repository": "registry.local:5000/nvidia"}
    assert values["node-feature-discovery"] == {"image": {"repository": "registry.local:5000/nvidia/node-feature-discovery"}}
    assert values["nfd"] == {"enabled": False}
    assert any("air-gapped" in d for d in decisions)


def test_mig_and_time_slicing():
    values, _decisions = operator_values([HOST], mig_strategy="mixed")
    assert values["mig"] == {"strategy": "mixed"} and values["migManager"] == {"enabled": True}
    values, _decisions = operator_values([HOST], time_slicing_replicas=4)
    assert values["devicePlugin"]["config"] == {"name": "llmops-time-slicing", "default": "any"}
    cfg = time_slicing_config(4)
    assert cfg["sharing"]["timeSlicing"]["resources"] == [{"name": "nvidia.com/gpu", "replicas": 4}]


def test_full_gpu_facts_form_is_understood():
    """The dict gpu_facts puts in ansible_facts.llmops_gpu works as well as the flat form."""
    full = {
        "driver": {"loaded": True, "version": "580.159.04"},
        "runtimes": {"nvidia_ctk": {"present": True, "version": "1.18.0"}},
        "summary": {"mig_enabled": False},
    }
    values, decisions = operator_values([full, full])
    assert values["driver"]["enabled"] is False and values["toolkit"]["enabled"] is False
    assert "580.159.04" in decisions[0]
    no_ctk = dict(full, runtimes={"nvidia_ctk": {"present": False}})
    assert operator_values([no_ctk])[0]["toolkit"]["enabled"] is True


# ---------------------------------------------------------------- chart versions: upgrade yes, downgrade no
from ansible_collections.llmops.vllm_serving.plugins.module_utils._operator.values import (  # noqa: E402
    chart_upgrade_check,
    chart_version_key,
    chart_version_of,
)


@pytest.mark.parametrize("version, key", [("v26.7.0", (26, 7, 0)), ("25.10.1", (25, 10, 1)), ("v26.7.0-rc.1", (26, 7, 0))])
def test_chart_version_key(version, key):
    assert chart_version_key(version) == key


@pytest.mark.parametrize("version", ["latest", "", None, "v26.7"])
def test_chart_version_key_refuses_what_is_not_a_version(version):
    with pytest.raises(LlmopsError, match=r"is not a chart version; use the form v26.7.0"):
        chart_version_key(version)


def test_chart_version_of_a_label():
    assert chart_version_of("gpu-operator-v26.7.0") == "v26.7.0"
    with pytest.raises(LlmopsError, match="is not the NVIDIA gpu-operator chart"):
        chart_version_of("keda-2.20.2")


@pytest.mark.parametrize("deployed, target, decision", [
    ("", "v26.7.0", "chart: install gpu-operator v26.7.0"),
    ("gpu-operator-v25.10.0", "v26.7.0", "chart: upgrade gpu-operator v25.10.0 -> v26.7.0"),
    ("gpu-operator-v26.7.0", "v26.7.0", "chart: gpu-operator v26.7.0 already deployed"),
    ("gpu-operator-v25.3.4", "v25.10.0", "chart: upgrade gpu-operator v25.3.4 -> v25.10.0"),  # numeric, not string order
])
def test_install_upgrade_reapply(deployed, target, decision):
    assert chart_upgrade_check(deployed, target).startswith(decision)


def test_downgrade_is_refused_with_both_versions_and_the_way_out():
    with pytest.raises(LlmopsError) as err:
        chart_upgrade_check("gpu-operator-v26.7.0", "v25.10.0", "nvidia/gpu-operator")
    msg = str(err.value)
    assert msg.startswith("gpu_operator_chart_version=v25.10.0 (nvidia/gpu-operator) is older than the deployed release (gpu-operator v26.7.0)")
    assert "Helm does not roll back the CRDs" in msg
    assert "gpu_operator_state=absent" in msg


def _policy(enabled=True, version="595.91.07", **policy):
    return {"spec": {"driver": {"enabled": enabled, "version": version,
                                "upgradePolicy": dict({"autoUpgrade": True, "maxParallelUpgrades": 1}, **policy)}}}


def test_driver_version_goes_into_the_values_only_when_the_operator_manages_the_driver():
    values, decisions = _values.operator_values([{"driver_loaded": False}], driver_version="580.105.08")
    assert values["driver"] == {"enabled": True, "version": "580.105.08"}
    values, decisions = _values.operator_values([{"driver_loaded": True, "driver_version": "580.159.04"}],
                                                driver_version="580.105.08")
    assert values["driver"] == {"enabled": False}
    assert any("not used: the host manages the driver" in d for d in decisions)


def test_a_driver_version_that_is_not_one_is_refused_naming_it():
    with pytest.raises(LlmopsError, match=r"gpu_operator_driver_version='latest' is not an NVIDIA driver version"):
        _values.operator_values([{"driver_loaded": False}], driver_version="latest")


def test_driver_upgrade_decisions():
    check = _values.driver_upgrade_check
    assert check({}, _policy()) == "driver: the operator installs 595.91.07"
    assert check(_policy(enabled=False), _policy()) == "driver: the operator installs 595.91.07"
    assert check(_policy(), _policy(enabled=False)) == "driver: host-managed (the operator does not install one)"
    assert check(_policy(), _policy()) == "driver: 595.91.07 already set (no driver change)"
    assert check(_policy(version="580.105.08"), _policy(drain={"enable": True})) == (
        "driver: upgrade 580.105.08 -> 595.91.07, rolled node by node (maxParallelUpgrades 1, drain on) by the "
        "operator's upgrade controller")


def test_driver_downgrade_is_refused_unless_allowed():
    with pytest.raises(LlmopsError) as err:
        _values.driver_upgrade_check(_policy(), _policy(version="580.105.08"))
    assert str(err.value).startswith("gpu_operator_driver_version=580.105.08 is older than the driver the cluster "
                                     "runs (595.91.07)")
    assert "gpu_operator_allow_driver_downgrade=true" in str(err.value)
    # numeric, not string, order: 595.9 is older than 595.10
    with pytest.raises(LlmopsError):
        _values.driver_upgrade_check(_policy(version="595.10.01"), _policy(version="595.9.01"))
    assert _values.driver_upgrade_check(_policy(), _policy(version="580.105.08"), allow_downgrade=True).startswith(
        "driver: downgrade 595.91.07 -> 580.105.08 (allowed)")
