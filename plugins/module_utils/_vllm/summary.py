# -*- coding: utf-8 -*-
# Copyright: llmops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The table vllm_deploy prints at the end of a run: per model, where it runs, its parallelism, the KV cache it
got, its endpoints, what autoscales it, and what this run changed (from k8s_apply_set's per-object actions)."""

from __future__ import annotations

COLUMNS = ("model", "runs as (eligible nodes)", "TP x PP", "KV tokens/replica", "concurrency", "endpoints", "autoscaling", "this run")


def _max_model_len(plan):
    args = plan.get("args") or []
    for i, arg in enumerate(args):
        if arg == "--max-model-len" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--max-model-len="):
            return arg.split("=", 1)[1]
    return None


def _nodes(nodes, limit=3):
    nodes = list(nodes or [])
    if len(nodes) <= limit:
        return ", ".join(nodes) or "-"
    return "%s +%d more" % (", ".join(nodes[:limit]), len(nodes) - limit)


WORDS = {"create": "created", "update": "updated", "delete": "deleted"}


def _owners(objects, applied, models):
    """Model of each applied row: the object's llmops.io/model label; a deleted object (no longer rendered) belongs to
    the listed model of its name (HPA, ScaledObject, Ingress... are named after the model), else to none."""
    owner = {}
    for obj in objects or []:
        meta = obj.get("metadata") or {}
        owner[(obj.get("kind"), meta.get("namespace") or "", meta.get("name"))] = (meta.get("labels") or {}).get("llmops.io/model")
    out = []
    for row in applied or []:
        key = (row.get("kind"), row.get("namespace") or "", row.get("name"))
        model = owner.get(key)
        if model is None and row.get("action") == "delete" and row.get("name") in models:
            model = row["name"]
        out.append((model, row.get("action")))
    return out


def _words(actions, applied):
    counts = {a: actions.count(a) for a in WORDS}
    parts = ["%d %s" % (counts[a], WORDS[a]) for a in ("create", "update", "delete") if counts[a]]
    return ", ".join(parts) or ("unchanged" if applied is not None else "-")


def rows(plans, namespace, objects=None, applied=None):
    return _rows(plans, namespace, _owners(objects, applied, {p["name"] for p in plans}), applied)


def _rows(plans, namespace, owners, applied):
    out = []
    for plan in plans:
        sizing = plan.get("sizing") or {}
        auto = plan.get("autoscaling") or {}
        kind = auto.get("kind") or "none"
        gpus = plan.get("gpus_per_pod") or plan.get("tensor_parallel_size") or 1
        # the nodes the plan found for its GPU product (the scheduler picks among them)
        runs = "%s x %d GPU %s (%s)" % (plan.get("replicas"), gpus, plan.get("gpu_product") or "?", _nodes(plan.get("nodes")))
        endpoints = "%s.%s.svc:8000" % (plan["name"], namespace)
        if plan.get("ingress_host"):
            endpoints += ", https://%s" % plan["ingress_host"]
        mml = _max_model_len(plan)
        concurrency = sizing.get("max_concurrency")
        out.append({
            "model": plan["name"],
            "runs as (eligible nodes)": runs,
            "TP x PP": "%s x %s" % (plan.get("tensor_parallel_size", 1), plan.get("pipeline_parallel_size", 1)),
            "KV tokens/replica": "{:,}".format(sizing["kv_cache_tokens"]) if sizing.get("kv_cache_tokens") else "-",
            "concurrency": ("%s at %s tokens" % (concurrency, mml)) if concurrency is not None and mml else "-",
            "endpoints": endpoints,
            "autoscaling": "none" if kind == "none" else "%s %s-%s" % (kind.upper() if kind == "hpa" else "KEDA",
                                                                       auto.get("min_replicas"), auto.get("max_replicas")),
            "this run": _words([a for m, a in owners if m == plan["name"]], applied),
        })
    return out


def table(plans, namespace, objects=None, applied=None):
    """The rows as a fixed-width text table (one string per line)."""
    owners = _owners(objects, applied, {p["name"] for p in plans})
    data = _rows(plans, namespace, owners, applied)
    widths = {c: max([len(c)] + [len(str(r[c])) for r in data]) for c in COLUMNS}

    def line(cells):
        return " | ".join(str(cells[c]).ljust(widths[c]) for c in COLUMNS).rstrip()
    out = [line({c: c for c in COLUMNS}), "-+-".join("-" * widths[c] for c in COLUMNS)]
    out += [line(r) for r in data]
    others = [a for m, a in owners if m is None and a == "delete"]
    if others:
        out.append("removed: %d object(s) of models no longer listed" % len(others))
    return out
