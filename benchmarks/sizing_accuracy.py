# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Accuracy of llmops.vllm_serving's sizing core against real vLLM startup logs.

Every case in tests/fixtures/vllm_logs/cases.json is a real startup (model, GPU, TP/PP,
utilisation, release) with what vLLM printed. This prints, per case, the reported and predicted
"GPU KV cache size" tokens (or "Available KV cache memory" GiB when no token count was
published), the error, and the fit verdict; then the median and mean absolute error, and
the accuracy report: in-sample (``calibration: fit``) against held-out cases, per release family
(<0.10, 0.10-0.12, 0.13-0.19, 0.20+) and per term (weights, activation, non-torch, KV GiB:
predicted vs logged where the log printed it), with the worst held-out cases.

With ``--planner PYTHON`` it also runs llm-d-planner's capacity planner (PyPI ``llm-d-planner``,
installed in a separate virtualenv) on the same cases through that interpreter and prints both
side by side. Run from the repository root:

    .venv/bin/python benchmarks/sizing_accuracy.py [--planner /tmp/planner-venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = os.path.join(ROOT, "tests", "fixtures", "vllm_logs", "cases.json")
CONFIGS = os.path.join(ROOT, "tests", "fixtures", "model_configs")
sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))


def _link():
    link_parent = os.path.join(ROOT, ".build", "collections", "ansible_collections", "llmops")
    link = os.path.join(link_parent, "vllm_serving")
    if not os.path.islink(link) and not os.path.isdir(link):
        os.makedirs(link_parent, exist_ok=True)
        os.symlink(os.path.join("..", "..", "..", ".."), link)


_link()
from ansible_collections.llmops.vllm_serving.plugins.module_utils._errors import LlmopsError  # noqa: E402
from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.sizing import size_model  # noqa: E402


def load_cases():
    with open(CASES, encoding="utf-8") as handle:
        return json.load(handle)["cases"]


def model_config(case):
    with open(os.path.join(CONFIGS, case["model"], "config.json"), encoding="utf-8") as handle:
        return json.load(handle)


def predict(case):
    """Run size_model on a case; returns the result dict, or {'fits': False, 'error': msg}."""
    try:
        return size_model(
            model_config=model_config(case),
            gpu_model=case.get("gpu_model"),
            gpu_memory_gib=case.get("gpu_memory_gib"),
            tensor_parallel_size=case.get("tensor_parallel_size", 1),
            pipeline_parallel_size=case.get("pipeline_parallel_size", 1),
            gpu_memory_utilization=case.get("gpu_memory_utilization"),
            max_model_len=case.get("max_model_len"),
            kv_cache_dtype=case.get("kv_cache_dtype"),
            quantization=case.get("quantization"),
            dtype=case.get("dtype"),
            max_num_seqs=case.get("max_num_seqs"),
            max_num_batched_tokens=case.get("max_num_batched_tokens"),
            enforce_eager=bool(case.get("enforce_eager", False)),
            vllm_version=case.get("vllm_version"),
            _recommend=False,
        )
    except LlmopsError as err:
        return {"fits": False, "error": str(err), "reasons": [str(err)]}


def estimate_gib(case, result):
    """What profile_cudagraph_memory would print for this case (also for releases that only print it)."""
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing import GIB, memory, releases
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.arch import normalize_config
    from ansible_collections.llmops.vllm_serving.plugins.module_utils._sizing.gpus import lookup

    arch = normalize_config(model_config(case))
    layers = arch.num_layers // max(1, case.get("pipeline_parallel_size", 1))
    gpu = lookup(case.get("gpu_model"), case.get("gpu_memory_gib"))
    est = memory.cudagraph_bytes(releases.release("0.21.0"), layers, result["max_num_seqs"], False,
                                 gpu.compute_capability.startswith("9."), result["max_num_batched_tokens"])
    return round(est / float(GIB), 2)


def error_pct(case, result):
    """Signed % error on tokens when vLLM printed them, else on KV GiB; None when not comparable."""
    rep = case.get("reported") or {}
    if rep.get("kv_cache_tokens"):
        pred = result.get("kv_cache_tokens", 0)
        return (pred - rep["kv_cache_tokens"]) * 100.0 / rep["kv_cache_tokens"], "tokens"
    if rep.get("kv_cache_gib") and rep["kv_cache_gib"] > 0:
        pred = result.get("kv_cache_gib", 0.0)
        return (pred - rep["kv_cache_gib"]) * 100.0 / rep["kv_cache_gib"], "GiB"
    return None, None


RECENT = (0, 21, 0)  # first release that subtracts the CUDA-graph estimate (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1)


def band(case):
    """'>=0.21' or '<0.21': the release bands whose budgets differ by the CUDA-graph estimate."""
    parts = [int(x) for x in str(case.get("vllm_version", "0")).split(".")[:3] if x.isdigit()]
    return ">=0.21" if tuple(parts + [0] * (3 - len(parts))) >= RECENT else "<0.21"


def band_summary(rows, calibration="fit"):
    """Per release band: (cases compared, median |error| %, max |error| %, verdicts right, verdicts).

    The per-band gate of tests/unit/.../test_sizing.py reads this: by default it covers the cases the
    constants were fitted on (``calibration: fit``); held-out cases are measured, not gated, and are
    reported by ``accuracy_report`` (``calibration=None`` takes every case)."""
    out = {}
    for label in ("<0.21", ">=0.21"):
        sel = [r for r in rows if band(r["case"]) == label
               and (calibration is None or r["case"].get("calibration") == calibration)]
        errs = [abs(r["error_pct"]) for r in sel if r["error_pct"] is not None]
        verdicts = [r["verdict_ok"] for r in sel if r["verdict_ok"] is not None]
        out[label] = {
            "cases": len(sel),
            "compared": len(errs),
            "median_abs_error_pct": statistics.median(errs) if errs else None,
            "max_abs_error_pct": max(errs) if errs else None,
            "verdicts": len(verdicts),
            "verdicts_right": sum(1 for v in verdicts if v),
        }
    return out


FAMILIES = (("<0.10", (0, 0, 0)), ("0.10-0.12", (0, 10, 0)), ("0.13-0.19", (0, 13, 0)), ("0.20+", (0, 20, 0)))
TERMS = (("weights", "weights_gib"), ("activation", "activation_gib"), ("non-torch", "non_torch_gib"),
         ("KV GiB", "kv_cache_gib"))


def _version_key(case):
    parts = [int(x) for x in str(case.get("vllm_version", "0")).split(".")[:3] if x.isdigit()]
    return tuple(parts + [0] * (3 - len(parts)))


def family(case):
    """Release family of a case: '<0.10', '0.10-0.12', '0.13-0.19' or '0.20+'."""
    key = _version_key(case)
    label = FAMILIES[0][0]
    for name, start in FAMILIES:
        if key >= start:
            label = name
    return label


def _pct(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 100)))  # ceil(q/100 * n)
    return ordered[min(rank, len(ordered)) - 1]


def _stats(values):
    if not values:
        return None
    return {"n": len(values), "median": statistics.median(values), "p90": _pct(values, 90), "max": max(values)}


def term_errors(row):
    """{term: predicted - logged} in GiB for the terms the log printed (failed predictions give none)."""
    rep = row["case"].get("reported") or {}
    res = row["result"]
    out = {}
    if "error" in res:
        return out
    for name, key in TERMS:
        logged, pred = rep.get(key), res.get(key)
        if logged is None or pred is None:
            continue
        if name == "KV GiB" and logged <= 0:
            continue  # a refused start prints a negative budget; the model clamps KV at 0
        out[name] = pred - logged
    return out


def kv_abs_error(row):
    """('tokens', |predicted - printed| tokens) or ('GiB', |predicted - printed| GiB) or (None, None)."""
    rep = row["case"].get("reported") or {}
    res = row["result"]
    if row["unit"] == "tokens":
        return "tokens", abs(res.get("kv_cache_tokens", 0) - rep["kv_cache_tokens"])
    if row["unit"] == "GiB":
        return "GiB", abs(res.get("kv_cache_gib", 0.0) - rep["kv_cache_gib"])
    return None, None


def group_summary(rows):
    """KV error (% and absolute, tokens where printed, else GiB) and fit-verdict tally of a set of rows."""
    pct = [abs(r["error_pct"]) for r in rows if r["error_pct"] is not None]
    tok = [kv_abs_error(r)[1] for r in rows if kv_abs_error(r)[0] == "tokens"]
    gib = [kv_abs_error(r)[1] for r in rows if kv_abs_error(r)[0] == "GiB"]
    verdicts = [r["verdict_ok"] for r in rows if r["verdict_ok"] is not None]
    return {
        "cases": len(rows),
        "pct": _stats(pct),
        "tokens": _stats(tok),
        "gib": _stats(gib),
        "verdicts_right": sum(1 for v in verdicts if v),
        "verdicts_wrong": sum(1 for v in verdicts if not v),
    }


def term_summary(rows):
    """{term: {'n', 'median', 'p90', 'max' of |pred - logged| GiB, 'bias': median signed GiB}}."""
    out = {}
    for name, _key in TERMS:
        diffs = [term_errors(r)[name] for r in rows if name in term_errors(r)]
        stats = _stats([abs(d) for d in diffs])
        if stats:
            stats["bias"] = statistics.median(diffs)
        out[name] = stats
    return out


def worst_term(row):
    """Where the KV miss comes from: the logged non-KV term (weights, activation, non-torch) the model misses
    by the most GiB when it explains at least half of the KV GiB miss, else the part of the non-KV budget the
    log does not itemise (predicted minus logged, from KV GiB and the logged terms); None without KV GiB."""
    errs = term_errors(row)
    parts = {k: v for k, v in errs.items() if k != "KV GiB"}
    kv = errs.get("KV GiB")
    if parts:
        name = max(parts, key=lambda k: abs(parts[k]))
        if kv is None or abs(parts[name]) >= 0.5 * abs(kv):
            return name, parts[name]
    if kv is None:
        return None
    rest = -kv - sum(parts.values())
    missing = [n for n, _k in TERMS[:3] if n not in parts] + ["CUDA graph"]
    return "unlogged non-KV (%s)" % " + ".join(missing), rest


def _fmt(stats, digits, scale=1.0):
    if not stats:
        return "%5s %9s %9s %9s" % ("0", "-", "-", "-")
    fmt = "%9." + str(digits) + "f"
    return ("%5d " + fmt + " " + fmt + " " + fmt) % (
        stats["n"], stats["median"] * scale, stats["p90"] * scale, stats["max"] * scale)


def accuracy_report(rows, worst=5):
    """The text tables: in-sample (fit) vs held-out, per release family, per term; worst held-out cases."""
    lines = []
    groups = [("fit", [r for r in rows if r["case"].get("calibration") == "fit"]),
              ("held_out", [r for r in rows if r["case"].get("calibration") != "fit"])]
    head = "%-9s %-10s %5s | %5s %9s %9s %9s | %5s %9s %9s %9s | %5s %9s %9s %9s | %s" % (
        "set", "family", "cases", "n", "med|e|%", "p90|e|%", "max|e|%", "n", "med|dtok|", "p90|dtok|",
        "max|dtok|", "n", "med|dGiB|", "p90|dGiB|", "max|dGiB|", "verdict right/wrong")
    lines.append("KV cache: |error| % (tokens where printed, else GiB), |predicted - printed| tokens, "
                 "|predicted - printed| 'Available KV cache memory' GiB (cases without a token count)")
    lines.append(head)
    lines.append("-" * len(head))
    for gname, grows in groups:
        fams = [("all", grows)] + [(f, [r for r in grows if family(r["case"]) == f]) for f, _start in FAMILIES]
        for fname, frows in fams:
            if not frows:
                continue
            g = group_summary(frows)
            lines.append("%-9s %-10s %5d | %s | %s | %s | %d/%d" % (
                gname, fname, g["cases"], _fmt(g["pct"], 2), _fmt(g["tokens"], 0), _fmt(g["gib"], 2),
                g["verdicts_right"], g["verdicts_wrong"]))
    lines.append("")
    lines.append("Per term: |predicted - logged| GiB where the log printed the term (bias = median of predicted - logged)")
    thead = "%-9s %-10s %-10s | %5s %9s %9s %9s %9s" % ("set", "family", "term", "n", "median", "p90", "max", "bias")
    lines.append(thead)
    lines.append("-" * len(thead))
    for gname, grows in groups:
        fams = [("all", grows)] + [(f, [r for r in grows if family(r["case"]) == f]) for f, _start in FAMILIES]
        for fname, frows in fams:
            for term, stats in term_summary(frows).items():
                if not stats:
                    continue
                lines.append("%-9s %-10s %-10s | %s %9.2f" % (gname, fname, term, _fmt(stats, 2), stats["bias"]))
    held = [r for r in groups[1][1] if r["error_pct"] is not None]
    held.sort(key=lambda r: -abs(r["error_pct"]))
    if held and worst:
        lines.append("")
        lines.append("Worst held-out cases (|KV error|), with the logged term the model misses most:")
        for row in held[:worst]:
            wt = worst_term(row)
            lines.append("  %-44s %-8s tp%s pp%s %+7.1f%% (%s)  %s" % (
                row["id"][:44], row["case"].get("vllm_version"), row["case"].get("tensor_parallel_size", 1),
                row["case"].get("pipeline_parallel_size", 1), row["error_pct"], row["unit"],
                "no term logged" if wt is None else "%s %+.2f GiB" % wt))
    return "\n".join(lines)


def cudagraph_summary(rows):
    """|predicted - printed| 'Estimated CUDA graph memory' GiB over the cases whose log printed it."""
    errs = []
    for row in rows:
        printed = (row["case"].get("reported") or {}).get("cudagraph_estimate_gib")
        if printed is None or "cudagraph_estimate_gib" not in row["result"]:
            continue
        errs.append(abs(row["result"]["cudagraph_estimate_gib"] - printed))
    return errs


def evaluate(cases=None):
    rows = []
    for case in cases or load_cases():
        result = predict(case)
        if "error" not in result and (case.get("reported") or {}).get("cudagraph_estimate_gib") is not None:
            result["cudagraph_estimate_gib"] = estimate_gib(case, result)
        err, unit = error_pct(case, result)
        expect = case.get("expect_fits")
        rows.append({
            "id": case["id"],
            "case": case,
            "result": result,
            "error_pct": err,
            "unit": unit,
            "verdict_ok": None if expect is None else bool(result.get("fits")) == bool(expect),
        })
    return rows


def summary(rows):
    errors = [abs(r["error_pct"]) for r in rows if r["error_pct"] is not None]
    verdicts = [r["verdict_ok"] for r in rows if r["verdict_ok"] is not None]
    return {
        "cases": len(rows),
        "compared": len(errors),
        "median_abs_error_pct": statistics.median(errors) if errors else None,
        "mean_abs_error_pct": statistics.mean(errors) if errors else None,
        "max_abs_error_pct": max(errors) if errors else None,
        "within_5pct": sum(1 for e in errors if e <= 5.0),
        "verdicts": len(verdicts),
        "verdicts_right": sum(1 for v in verdicts if v),
    }


def run_planner(python, rows):
    """Ask llm-d-planner (in its own venv) for its KV-token prediction of every case."""
    payload = []
    for row in rows:
        case = row["case"]
        rep = case.get("reported") or {}
        payload.append({
            "id": case["id"],
            "model_dir": os.path.join(CONFIGS, case["model"]),
            "gpu_label": case.get("gpu_model") or "",
            "gpu_name": row["result"].get("gpu_model") or "",
            "gpu_gib": row["result"].get("gpu_total_gib") or case.get("gpu_memory_gib"),
            "weights_gib": rep.get("weights_gib") or row["result"].get("weights_gib") or 0.0,
            "tp": case.get("tensor_parallel_size", 1),
            "pp": case.get("pipeline_parallel_size", 1),
            "util": case.get("gpu_memory_utilization") or 0.9,
            "max_model_len": row["result"].get("max_model_len") or case.get("max_model_len") or 8192,
            "kv_cache_dtype": case.get("kv_cache_dtype") or "auto",
        })
    script = os.path.join(ROOT, "benchmarks", "_planner_adapter.py")
    proc = subprocess.run([python, script], input=json.dumps(payload), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("llm-d-planner adapter failed:\n" + proc.stderr[-2000:])
    return json.loads(proc.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--planner", help="python of a virtualenv with llm-d-planner installed")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    rows = evaluate()
    planner = run_planner(args.planner, rows) if args.planner else {}
    head = "%-34s %-10s %-8s %3s %5s %8s %10s %10s %8s" % (
        "case", "gpu", "vllm", "tp", "util", "unit", "reported", "ours", "err%")
    if planner:
        head += " %10s %8s" % ("llm-d", "err%")
    head += "  fits(exp/ours)"
    print(head)
    print("-" * len(head))
    planner_errors = []
    planner_gib_errors = []
    ours_gib_errors = []
    for row in rows:
        case, res = row["case"], row["result"]
        rep = case.get("reported") or {}
        unit = row["unit"] or "-"
        reported = rep.get("kv_cache_tokens") if unit == "tokens" else rep.get("kv_cache_gib")
        ours = res.get("kv_cache_tokens") if unit == "tokens" else res.get("kv_cache_gib")
        line = "%-34s %-10s %-8s %3s %5s %8s %10s %10s %8s" % (
            case["id"][:34], (res.get("gpu_model") or case.get("gpu_model") or str(case.get("gpu_memory_gib")))[:10], case.get("vllm_version"),
            case.get("tensor_parallel_size", 1), case.get("gpu_memory_utilization"), unit,
            "-" if reported is None else reported, "-" if ours is None else ours,
            "-" if row["error_pct"] is None else "%+.1f" % row["error_pct"])
        if rep.get("kv_cache_gib") and rep["kv_cache_gib"] > 0 and res.get("kv_cache_gib") is not None:
            ours_gib_errors.append(abs(res["kv_cache_gib"] - rep["kv_cache_gib"]) * 100.0 / rep["kv_cache_gib"])
            pg = planner.get(case["id"], {}).get("kv_cache_gib") if planner else None
            if pg is not None:
                planner_gib_errors.append(abs(pg - rep["kv_cache_gib"]) * 100.0 / rep["kv_cache_gib"])
        if planner:
            pv = planner.get(case["id"], {})
            pred = pv.get("kv_cache_tokens") if unit == "tokens" else pv.get("kv_cache_gib")
            perr = None
            if pred is not None and reported and reported > 0:
                perr = (pred - reported) * 100.0 / reported
                planner_errors.append(abs(perr))
            line += " %10s %8s" % ("-" if pred is None else (int(pred) if unit == "tokens" else round(pred, 2)),
                                   "-" if perr is None else "%+.1f" % perr)
        expect = case.get("expect_fits")
        line += "  %s/%s%s" % ("-" if expect is None else expect, res.get("fits"),
                               "" if row["verdict_ok"] in (None, True) else "  WRONG")
        print(line)
    summ = summary(rows)
    print()
    print("llmops.vllm_serving: %d cases, %d compared, median |error| %.2f%%, mean %.2f%%, max %.2f%%, "
          "%d/%d within 5%%, fit verdict right %d/%d" % (
              summ["cases"], summ["compared"], summ["median_abs_error_pct"], summ["mean_abs_error_pct"],
              summ["max_abs_error_pct"], summ["within_5pct"], summ["compared"], summ["verdicts_right"], summ["verdicts"]))
    if planner_errors:
        print("llm-d-planner %s: %d compared, median |error| %.2f%%, mean %.2f%%, max %.2f%%, %d within 5%%" % (
            planner.get("_version", ""), len(planner_errors), statistics.median(planner_errors),
            statistics.mean(planner_errors), max(planner_errors), sum(1 for e in planner_errors if e <= 5.0)))
        if summ["median_abs_error_pct"]:
            print("ratio of median errors (llm-d-planner / ours): %.1fx" % (
                statistics.median(planner_errors) / summ["median_abs_error_pct"]))
    if planner_gib_errors:
        print("per-GPU 'Available KV cache memory' GiB, %d cases: ours median %.2f%% / max %.2f%%; llm-d-planner median "
              "%.2f%% / max %.2f%%" % (len(planner_gib_errors), statistics.median(ours_gib_errors), max(ours_gib_errors),
                                       statistics.median(planner_gib_errors), max(planner_gib_errors)))
    for label in ("fit", "held_out"):
        errs = [abs(r["error_pct"]) for r in rows if r["error_pct"] is not None and r["case"].get("calibration") == label]
        if errs:
            print("  %-8s cases: %2d, median |error| %.2f%%, max %.2f%%" % (label, len(errs), statistics.median(errs), max(errs)))
    for label, band_row in band_summary(rows).items():
        if band_row["compared"]:
            print("  release %-6s (fit cases, gated): %2d cases, %2d compared, median |error| %.2f%%, max %.2f%%, "
                  "fit verdict right %d/%d" % (
                      label, band_row["cases"], band_row["compared"], band_row["median_abs_error_pct"],
                      band_row["max_abs_error_pct"], band_row["verdicts_right"], band_row["verdicts"]))
        else:
            print("  release %-6s (fit cases, gated): %2d cases, none compared, fit verdict right %d/%d" % (
                label, band_row["cases"], band_row["verdicts_right"], band_row["verdicts"]))
    for label, band_row in band_summary(rows, calibration=None).items():
        if band_row["compared"]:
            print("  release %-6s (all cases, not gated): %2d cases, median |error| %.2f%%, max %.2f%%, "
                  "fit verdict right %d/%d" % (label, band_row["cases"], band_row["median_abs_error_pct"],
                                               band_row["max_abs_error_pct"], band_row["verdicts_right"],
                                               band_row["verdicts"]))
    cg = cudagraph_summary(rows)
    if cg:
        print("  'Estimated CUDA graph memory' (profile_cudagraph_memory), %d logs that print it: median |error| %.2f GiB, "
              "max %.2f GiB" % (len(cg), statistics.median(cg), max(cg)))
    print()
    print(accuracy_report(rows))
    if args.json:
        print(json.dumps(summ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
