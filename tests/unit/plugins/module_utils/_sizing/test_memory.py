"""The per-release budget terms: what each vLLM release subtracts from total x utilization."""

from __future__ import annotations

import pytest
from conftest import load

from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import GIB, memory, releases
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.arch import normalize_config


def act(name, version, tokens=8192, seqs=1024, tp=1, last=True):
    return memory.activation_bytes(normalize_config(load(name)), tp, 2, tokens, seqs, releases.release(version), last) / GIB


def test_capture_sizes():
    # [1, 2, 4] + 8..248 step 8 (31) + 256..512 step 16 (17) = 51 sizes up to 512
    assert memory.capture_sizes(1024) == 51 and memory.capture_sizes(256) == 51
    # max_cudagraph_capture_size = min(2 x max_num_seqs, 512): 16 seqs -> sizes <= 32 -> 1, 2, 4, 8, 16, 24, 32
    assert memory.capture_sizes(16) == 7


@pytest.mark.parametrize(
    "name,measured",
    [
        # "torch peak memory increase" of vLLM 0.19.0 on H100 (8192 batched tokens, 1024 seqs)
        ("meta-llama--Llama-3.1-8B-Instruct", 1.89),
        ("Qwen--Qwen2.5-7B-Instruct", 2.21),
        ("codellama--CodeLlama-7b-hf", 0.77),
        ("google--gemma-2-27b-it", 3.66),
        ("Qwen--Qwen3-30B-A3B", 2.68),
        ("microsoft--phi-4", 1.52),
    ],
)
def test_activation_matches_measured_019(name, measured):
    assert act(name, "0.19.0") == pytest.approx(measured, abs=0.25)


def test_activation_release_differences():
    # 0.15/0.16 measured 5.64 GiB for Qwen3-14B, 0.17+ 2.23 GiB (the dummy sampler run shrank)
    assert act("Qwen--Qwen3-14B", "0.16.0") == pytest.approx(5.64, abs=0.2)
    assert act("Qwen--Qwen3-14B", "0.17.0") == pytest.approx(2.23, abs=0.2)
    # only the last pipeline stage samples: rank 0 of PP=2 measured 1.10 GiB
    assert act("meta-llama--Llama-3.1-8B-Instruct", "0.19.0", last=False) == pytest.approx(1.10, abs=0.25)


def test_non_torch_by_release_and_parallelism():
    new, old, v0 = releases.release("0.33.0"), releases.release("0.16.0"), releases.release("0.6.6")
    assert memory.non_torch_bytes(new, 1, 1) / GIB == pytest.approx(0.25)
    assert memory.non_torch_bytes(old, 1, 1) / GIB == pytest.approx(0.13)
    assert memory.non_torch_bytes(new, 2, 1, "H100-80GB") / GIB == pytest.approx(2.10)  # measured 2.06-2.21
    assert memory.non_torch_bytes(new, 1, 2) / GIB == pytest.approx(0.07)
    assert memory.non_torch_bytes(v0, 1, 1) / GIB == pytest.approx(0.30)


def test_capture_graphs_as_vllm_logs_them():
    # "Profiling CUDA graph memory: PIECEWISE=51 (largest=512), FULL=51 (largest=512)" (1024 seqs, H100 defaults)
    assert memory.capture_graphs(1024, 8192) == (51, 51)
    # "PIECEWISE=51 (largest=512), FULL=35 (largest=256)" (256 seqs, the defaults of a 24 GB GPU)
    assert memory.capture_graphs(256, 2048) == (51, 35)
    # 8 seqs: max_cudagraph_capture_size = 16 -> "PIECEWISE=5 (largest=16)"; FULL up to 8 seqs -> 4
    assert memory.capture_graphs(8) == (5, 4)
    # never larger than max_num_batched_tokens
    assert memory.capture_graphs(1024, 256) == (35, 35)


def test_cudagraph_estimate_only_from_021():
    assert memory.cudagraph_bytes(releases.release("0.20.2"), 32, 1024, False) == 0
    assert memory.cudagraph_bytes(releases.release("0.21.0"), 32, 1024, False) > 0
    assert memory.cudagraph_bytes(releases.release("0.33.0"), 32, 1024, True) == 0  # enforce_eager


@pytest.mark.parametrize(
    "layers,seqs,batched,hopper,printed",
    [
        # first capture + per-graph x ((51 - 1) + (51 - 1)): 0.30 GiB + 0.172 MiB x 32 x 100 = 0.837 GiB;
        # 0.19.0 on H100 printed 0.84 for every Llama-3.1-8B variant (llm-d-planner sweep)
        (32, 1024, 8192, True, 0.84),
        # 80 layers (Llama-3.3-70B TP2/TP4, Qwen2.5-72B TP2): 0.30 + 0.172 x 80 x 100 / 1024 = 1.64; printed 1.63-1.92
        (80, 1024, 8192, True, 1.64),
        # Qwen3-8B, RTX A5000, 0.21.0, 51 + 35 graphs: 0.25 + 0.077 x 36 x 84 / 1024 = 0.477; printed 0.52
        (36, 256, 8192, False, 0.52),
        # 60-layer dense model on B300, 0.26.0, 51 + 51 graphs: 0.25 + 0.077 x 60 x 100 / 1024 = 0.70; printed 0.76
        (60, 1024, 8192, False, 0.76),
    ],
)
def test_cudagraph_estimate_reproduces_printed_values(layers, seqs, batched, hopper, printed):
    est = memory.cudagraph_bytes(releases.release("0.33.0"), layers, seqs, False, hopper, batched) / GIB
    assert est == pytest.approx(printed, abs=0.07)


def test_cudagraph_estimate_grows_with_graphs_and_layers():
    rel = releases.release("0.33.0")
    few = memory.cudagraph_bytes(rel, 32, 16, False)  # 7 + 7 graphs
    many = memory.cudagraph_bytes(rel, 32, 1024, False)  # 51 + 51 graphs
    deeper = memory.cudagraph_bytes(rel, 64, 1024, False)
    assert few < many < deeper
    # max_num_seqs=1: PIECEWISE [1, 2], FULL [1] -> first capture + one per-graph increment
    assert memory.capture_graphs(1) == (2, 1)
    assert memory.cudagraph_bytes(rel, 32, 1, False, True, 8192) == int(
        memory.CUDAGRAPH_FIRST_HOPPER + memory.CUDAGRAPH_PER_GRAPH_LAYER_HOPPER * 32)


def test_budget_subtracts_every_term():
    bud = memory.budget(100 * GIB, 0.9, 20 * GIB, 2 * GIB, GIB, GIB // 2)
    assert bud.requested == 90 * GIB and bud.available == int(66.5 * GIB)


@pytest.mark.parametrize(
    "version,engine,nccl,graphs,defaults_large,defaults_small",
    [
        ("0.6.6", "v0", True, False, (8192, 256), (8192, 256)),
        ("0.8.5", "v1", True, False, (8192, 256), (8192, 256)),
        ("0.10.1", "v1", True, False, (8192, 1024), (2048, 256)),
        ("0.19.0", "v1", False, False, (8192, 1024), (2048, 256)),
        ("v0.21.0", "v1", False, True, (8192, 1024), (2048, 256)),
        ("0.33.0", "v1", False, True, (8192, 1024), (2048, 256)),
    ],
)
def test_release_table(version, engine, nccl, graphs, defaults_large, defaults_small):
    rel = releases.release(version)
    assert (rel.engine, rel.nccl_in_budget, rel.cudagraph_in_budget) == (engine, nccl, graphs)
    assert rel.batch_defaults(True, 8192) == defaults_large
    assert rel.batch_defaults(False, 8192) == defaults_small
    assert rel.gpu_memory_utilization == 0.9 and rel.block_size == 16


def test_v0_profiles_the_whole_context_without_chunked_prefill():
    rel = releases.release("0.6.4")
    assert rel.batch_defaults(False, 20000) == (20000, 256)
    assert rel.batch_defaults(False, 65536) == (2048, 256)  # chunked prefill above 32K


@pytest.mark.parametrize("bad", ["latest", "", "0.4.0", "x.y"])
def test_bad_versions(bad):
    with pytest.raises(LlmopsError, match="vllm_version"):
        releases.release(bad) if bad else releases.parse_version(bad)


def test_default_release():
    assert releases.release(None).version == "0.33.0"


@pytest.mark.parametrize(
    "name,version,expected",
    [
        ("meta-llama--Llama-3.1-8B-Instruct", "0.24.0", False),  # V1 runner before 0.25.1
        ("meta-llama--Llama-3.1-8B-Instruct", "0.25.1", True),  # V2 default for dense models (vllm#44443)
        ("Qwen--Qwen3-30B-A3B", "0.27.1", False),  # MoE stays on V1 until 0.29.0
        ("Qwen--Qwen3-30B-A3B", "0.29.0", True),  # V2 for every supported configuration
        ("google--gemma-3-12b-it", "0.33.0", False),  # multimodal: kept on V1 (not confirmed)
        ("Qwen--Qwen3-Next-80B-A3B-Instruct", "0.33.0", False),  # gated-delta-net hybrid: V1 here
    ],
)
def test_model_runner_v2_selection(name, version, expected):
    assert memory.model_runner_v2(releases.release(version), normalize_config(load(name))) is expected


def test_runner_v2_placeholder_estimate_before_029():
    """0.25.1-0.28: Model Runner V2's profile_cudagraph_memory() returned 0 (vllm-project/vllm#49224/#49233),
    so dense models got no CUDA-graph reservation; V2's CUDA-graph memory profiling shipped in 0.29.0.
    A real 0.27.1 V2 start (Qwen3-8B, RTX 4090: 23.99 x 0.9 - 15.27 weights - 1.18 peak - 4.92 KV
    = 0.22 GiB left for non-torch + graphs) only balances with no graph reservation."""
    assert memory.cudagraph_bytes(releases.release("0.25.1"), 32, 1024, False, True, 8192, runner_v2=True) == 0
    assert memory.cudagraph_bytes(releases.release("0.28.2"), 32, 1024, False, True, 8192, runner_v2=True) == 0
    assert memory.cudagraph_bytes(releases.release("0.25.1"), 32, 1024, False, True, 8192, runner_v2=False) > 0
    assert memory.cudagraph_bytes(releases.release("0.29.0"), 32, 1024, False, True, 8192, runner_v2=True) > 0
