# -*- coding: utf-8 -*-
"""The model entry schema: unknown keys named with the closest known key, types named by key, defaults merged."""

import pytest

from ansible_collections.llmops.vllm_serving.plugins.module_utils._vllm import model_entry

BASE = {"name": "m1", "model_config_path": "/cfg", "gpu_product": "NVIDIA-L4"}


@pytest.mark.parametrize("typo, known", [
    ("tensor_paralel_size", "tensor_parallel_size"),
    ("max_modle_len", "max_model_len"),
    ("gpu_memory_utilisation", "gpu_memory_utilization"),
    ("ingres_host", "ingress_host"),
])
def test_unknown_key_names_the_closest_known_key(typo, known):
    result = model_entry.merge_models([dict(BASE, **{typo: 2})])
    assert result["problems"] == ["model m1: unknown key `%s`; did you mean `%s`?" % (typo, known)]


def test_unknown_key_without_a_close_one_lists_the_known_keys():
    (problem,) = model_entry.merge_models([dict(BASE, zebra=1)])["problems"]
    assert problem.startswith("model m1: unknown key `zebra`; known keys: ")
    assert "tensor_parallel_size" in problem


@pytest.mark.parametrize("key, advice", [("gpus_per_pod", "set `tensor_parallel_size`"),
                                         ("resources", "requests and limits are derived")])
def test_keys_the_role_derives_say_what_to_set(key, advice):
    (problem,) = model_entry.merge_models([dict(BASE, **{key: 1})])["problems"]
    assert problem.startswith("model m1: unknown key `%s`; " % key) and advice in problem


def test_non_integer_replicas_names_the_key_once():
    (problem,) = model_entry.merge_models([dict(BASE, replicas="two")])["problems"]
    assert problem == "model m1: replicas='two' must be an integer (pods (or LeaderWorkerSet groups))"
    assert problem.count("model m1") == 1


def test_strings_of_digits_are_converted():
    (model,) = model_entry.merge_models([dict(BASE, replicas="2", gpu_memory_utilization="0.85",
                                              enable_prefix_caching="true")])["models"]
    assert model["replicas"] == 2 and model["gpu_memory_utilization"] == 0.85
    assert model["enable_prefix_caching"] is True


def test_nested_autoscaling_and_lora_keys_are_checked():
    result = model_entry.merge_models([dict(BASE, autoscaling={"kind": "keda", "max_replica": 3},
                                            lora_adapters=[{"name": "sql", "path": "/a", "rank": 8}])])
    assert result["problems"] == [
        "model m1 autoscaling: unknown key `max_replica`; did you mean `max_replicas`?",
        "model m1 lora_adapters[0]: unknown key `rank`; known keys: name, path",
    ]


def test_required_keys():
    result = model_entry.merge_models([{"name": "m1"}])
    assert any("`gpu_product` is required" in p for p in result["problems"])
    assert any("`model_config_path`" in p and "is required to size" in p for p in result["problems"])
    assert model_entry.merge_models([])["problems"][0].startswith("vllm_deploy_models must be a non-empty list")


def test_defaults_fill_unset_keys_only():
    (model,) = model_entry.merge_models([dict(BASE, model_pvc="mine")],
                                        {"gpu_product": "NVIDIA-H100", "model_pvc": "store", "hf_cache_pvc": "",
                                         "gpu_memory_utilization": 0.9})["models"]
    assert model["gpu_product"] == "NVIDIA-L4" and model["model_pvc"] == "mine"
    assert model["gpu_memory_utilization"] == 0.9 and "hf_cache_pvc" not in model


def test_canary_deploy_appends_and_promote_merges():
    canary = {"model": "m1", "weight": 20, "settings": {"max_model_len": 4096}}
    deploy = model_entry.merge_models([BASE], {}, canary, "deploy")
    assert deploy["problems"] == []
    assert deploy["models"][-1]["__canary"] is True and deploy["models"][-1]["max_model_len"] == 4096
    assert deploy["models"][-1]["replicas"] == 1 and deploy["models"][-1]["autoscaling"] == {"kind": "none"}
    promote = model_entry.merge_models([BASE], {}, canary, "promote")
    assert len(promote["models"]) == 1 and promote["models"][0]["max_model_len"] == 4096


def test_canary_keys_and_target_are_checked():
    result = model_entry.merge_models([BASE], {}, {"model": "m2", "wieght": 5,
                                                   "settings": {"max_modle_len": 1}}, "deploy")
    assert "vllm_deploy_canary: unknown key `wieght`; did you mean `weight`?" in result["problems"]
    assert "vllm_deploy_canary settings: unknown key `max_modle_len`; did you mean `max_model_len`?" in result["problems"]
    assert any("vllm_deploy_canary.model='m2' must name a model" in p for p in result["problems"])
