"""Read clgraph run directories (schemas clgraph.run/v1 and v2) with pandas.

The format is documented in results/README.md. This module needs only the
standard library, numpy, pandas and matplotlib; the notebooks next to it use
it, and so can any script:

    import clgraph_results as cr
    run = cr.load_run("results/runs/20260101-120000-split-mnist-task")
    cr.metrics_table(run)          # strategies x metrics, "mean ± std"
    run.metric_keys                # the metrics, as the run's files list them
    cr.plot_heatmaps(run)          # mean accuracy matrices
    cr.plot_average_accuracy(run)  # average accuracy over the tasks seen so far
"""

import json
import math
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SCHEMA = "clgraph.run/v2"
# Schemas this reader reads: v1 differs only in config.json's layout (settings at the top level).
SCHEMAS = ("clgraph.run/v1", "clgraph.run/v2")

# The metrics are not listed here: Go's metric table (results.Table) writes
# them into summary.json's "metrics" listing (key, label, doc, headline), which
# load_run reads into Run.metrics; for folders without that listing it takes
# the keys found in the result.json files (see metric_listing).

# The member of result.json's "metrics" that maps undefined metrics to the reason.
UNDEFINED = "undefined"
# Cost columns of Run.results.
COSTS = ["train_seconds", "eval_seconds", "steps_per_second", "params", "peak_rss_mib"]

# The settings two runs must share to be compared (as in results/report).
MATCH_FIELDS = ["stream", "scenario", "protocol", "tasks", "iterations", "batch_size", "learning_rate", "hidden"]


def num(x):
    """Decode a float of the schema: numbers, "NaN"/"Inf"/"-Inf" strings, null."""
    if x is None:
        return math.nan
    if isinstance(x, str):
        s = x.strip().lower()
        if s in ("inf", "+inf", "infinity", "+infinity"):
            return math.inf
        if s in ("-inf", "-infinity"):
            return -math.inf
        return float(x)  # "NaN" and numbers in strings
    return float(x)


def _read_json(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    schema = data.get("schema", "")
    if schema not in SCHEMAS:
        raise ValueError(f"{path}: schema {schema!r} is not one of {SCHEMAS} (this reader supports only those)")
    return data


@dataclass(eq=False)
class Run:
    """A run directory loaded into memory."""

    dir: str
    config: dict
    # One row per result.json: strategy, seed, status, error, tasks_done,
    # one column per metric key (NaN unless status is "ok", and where the
    # metric is undefined), the costs, and R (a numpy array, possibly with
    # fewer rows than tasks) and b.
    results: pd.DataFrame
    label: str = ""
    tasks: list = field(default_factory=list)
    # The metrics, in table order: dicts with "key", "label", "doc" and
    # "headline" (see metric_listing).
    metrics: list = field(default_factory=list)

    @property
    def metric_keys(self):
        """The metric keys (columns of results), in table order."""
        return [m["key"] for m in self.metrics]

    @property
    def headline_keys(self):
        """The keys of the headline metrics (those of the bar charts)."""
        return [m["key"] for m in self.metrics if m.get("headline", True)]

    def metric_label(self, key):
        """The label of a metric, e.g. "ACC" for "acc"."""
        for m in self.metrics:
            if m["key"] == key:
                return m["label"]
        return default_label(key)

    @property
    def strategies(self):
        """Strategy specs in config order, then any others found in results."""
        order = list(self.config.get("strategies") or [])
        for s in self.results["strategy"] if len(self.results) else []:
            if s not in order:
                order.append(s)
        return order

    def ok(self):
        """The results with status "ok" and a complete T×T matrix."""
        T = len(self.tasks)
        if self.results.empty:
            return self.results
        mask = (self.results["status"] == "ok") & self.results["R"].map(lambda R: R.shape == (T, T))
        return self.results[mask]


def find_run(path):
    """Return path if it is a run directory, else the newest run directory
    directly inside it (run folders are named <time>-<stream>-<scenario>, so
    the last name in sorted order is the newest)."""
    path = os.path.abspath(os.path.expanduser(path))
    if os.path.exists(os.path.join(path, "config.json")):
        return path
    if os.path.isdir(path):
        runs = sorted(d for d in os.listdir(path) if os.path.exists(os.path.join(path, d, "config.json")))
        if runs:
            return os.path.join(path, runs[-1])
    raise FileNotFoundError(
        f"{path} is neither a clgraph run directory nor a folder of runs; "
        "set CLGRAPH_RUN (or the path in the first cell) to a folder written by 'clgraph run'")


def default_label(key):
    """A label for a metric key when the files give none: "acc" -> "ACC",
    "learning_accuracy" -> "Learning accuracy"."""
    return key.upper() if len(key) <= 3 else key.replace("_", " ").capitalize()


def metric_listing(path, result_metrics=()):
    """The metrics of the run folder at path, in table order, as dicts with
    "key", "label", "doc" and "headline": summary.json's "metrics" listing
    when it has one; otherwise (folders written before the listing) the keys
    of the result.json "metrics" objects given in result_metrics, then of
    summary.json's per-strategy metrics, in order of first appearance, with
    default_label labels, every one a headline metric."""
    summ = {}
    spath = os.path.join(path, "summary.json")
    if os.path.exists(spath):
        summ = _read_json(spath)
    listing = summ.get("metrics")
    if listing:
        return [{"key": m["key"], "label": m.get("label") or default_label(m["key"]), "doc": m.get("doc", ""),
                 "headline": bool(m.get("headline", True))} for m in listing]
    keys = []
    sources = list(result_metrics) + [s.get("metrics") or {} for s in summ.get("strategies") or []]
    for ms in sources:
        for k in ms or {}:
            if k != UNDEFINED and k not in keys:
                keys.append(k)
    return [{"key": k, "label": default_label(k), "doc": "", "headline": True} for k in keys]


# config.json v2 keys of the run spec -> the flat keys of v1 (and of this module's tables).
_SPEC_FLAT = {"stream": "stream", "scenario": "scenario", "protocol": "protocol", "class_order": "class_order",
              "iterations": "iterations", "batch": "batch_size", "eval_batch": "eval_batch", "lr": "learning_rate",
              "hidden": "hidden"}


def _normalize_config(config):
    """Give config.json of either schema both layouts: config["spec"] (the run spec, v2) and the
    flat keys of v1 (stream, scenario, protocol, iterations, batch_size, learning_rate, ...)."""
    extra = config.setdefault("extra", {}) or {}
    spec = config.get("spec")
    if spec is None:  # v1: build the spec from the flat settings
        spec = {k: config.get(flat) for k, flat in _SPEC_FLAT.items()}
        spec["lr"] = num(config.get("learning_rate"))
        spec["batch"] = config.get("batch_size")
        for k in ("train_limit", "test_limit", "checkpoint_every"):
            spec[k] = extra.get(k, 0)
        spec["tasks"] = len(config.get("tasks") or [])
        config["spec"] = spec
    else:
        for k, flat in _SPEC_FLAT.items():
            config[flat] = spec.get(k)
        for k in ("train_limit", "test_limit"):
            extra.setdefault(k, spec.get(k, 0))
    config["learning_rate"] = num(config.get("learning_rate"))
    return config


def load_run(path, label=""):
    """Load the run directory at path (config.json and every result.json)."""
    path = os.path.abspath(os.path.expanduser(path))
    cfg_path = os.path.join(path, "config.json")
    if not os.path.exists(cfg_path):
        raise FileNotFoundError(f"{path} is not a clgraph run directory: no config.json")
    config = _normalize_config(_read_json(cfg_path))
    rows = []
    result_metrics = []
    for root, _dirs, files in os.walk(path):
        if "result.json" not in files or os.path.samefile(root, path):
            continue
        r = _read_json(os.path.join(root, "result.json"))
        R = np.array([[num(v) for v in row] for row in (r.get("r") or [])], dtype=float)
        T = len(r.get("tasks") or [])
        if R.size == 0:
            R = np.zeros((0, T))
        m = r.get("metrics") or {}
        result_metrics.append(m)
        c = r.get("cost") or {}
        row = {
            "strategy": r["strategy"],
            "seed": int(r["seed"]),
            "status": r["status"],
            "error": r.get("error", ""),
            "tasks_done": R.shape[0],
            "R": R,
            "b": np.array([num(v) for v in (r.get("b") or [])], dtype=float),
        }
        undefined = m.get(UNDEFINED) or {}
        for k in m:
            if k != UNDEFINED:
                row[k] = math.nan if k in undefined else num(m[k])
        row["train_seconds"] = num(c.get("train_seconds", 0))
        row["eval_seconds"] = num(c.get("eval_seconds", 0))
        row["steps_per_second"] = num(c.get("steps_per_second", 0))
        row["params"] = int(c.get("params", 0))
        rss = int(c.get("peak_rss_bytes", 0))
        row["peak_rss_mib"] = rss / 2**20 if rss > 0 else math.nan
        rows.append(row)
    metrics = metric_listing(path, result_metrics)
    keys = [mt["key"] for mt in metrics]
    cols = ["strategy", "seed", "status", "error", "tasks_done", "R", "b"] + keys + COSTS
    df = pd.DataFrame(rows, columns=cols)  # a metric a result lacks is NaN
    if keys:
        df[keys] = df[keys].astype(float)
    order = {s: i for i, s in enumerate(config.get("strategies") or [])}
    seeds = {s: i for i, s in enumerate(config.get("seeds") or [])}
    if not df.empty:
        df = df.assign(_s=df["strategy"].map(lambda s: order.get(s, len(order))),
                       _d=df["seed"].map(lambda s: seeds.get(s, len(seeds))))
        df = df.sort_values(["_s", "strategy", "_d", "seed"]).drop(columns=["_s", "_d"]).reset_index(drop=True)
    tasks = list(config.get("tasks") or [])
    if not tasks:
        for rp in df.itertuples():
            if rp.R.shape[1]:
                tasks = [str(i) for i in range(rp.R.shape[1])]
                break
    return Run(dir=path, config=config, results=df, label=label, tasks=tasks, metrics=metrics)


def fmt_stat(values, decimals=3):
    """Format values as "mean ± std" (sample std; "n/a" if empty), like Go's Stat."""
    v = np.asarray([x for x in values], dtype=float)
    if v.size == 0:
        return "n/a"
    mean = v.mean()
    std = v.std(ddof=1) if v.size > 1 else 0.0
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


def metrics_table(run, label_by_run=False):
    """Strategies x metrics (run.metrics, columns labelled): mean ± sample
    std over the "ok" results that have the metric ("n/a" if none)."""
    rows = []
    for s in run.strategies:
        sub = run.results[run.results["strategy"] == s] if not run.results.empty else run.results
        ok = sub[sub["status"] == "ok"] if not sub.empty else sub
        row = {"strategy": f"{s} ({run.label})" if label_by_run and run.label else s,
               "ok": len(ok), "failed": len(sub) - len(ok)}
        for k in run.metric_keys:
            vals = ok[k].dropna() if not ok.empty else []
            row[run.metric_label(k)] = fmt_stat(vals) if len(ok) else "n/a"
        rows.append(row)
    return pd.DataFrame(rows).set_index("strategy")


def cost_table(run):
    """Strategies x cost: mean ± sample std over the "ok" results."""
    rows = []
    for s in run.strategies:
        ok = run.results[(run.results["strategy"] == s) & (run.results["status"] == "ok")] if not run.results.empty else run.results
        rows.append({
            "strategy": s,
            "train time (s)": fmt_stat(ok["train_seconds"], 2) if len(ok) else "n/a",
            "eval time (s)": fmt_stat(ok["eval_seconds"], 2) if len(ok) else "n/a",
            "steps/s": fmt_stat(ok["steps_per_second"], 0) if len(ok) else "n/a",
            "params": fmt_stat(ok["params"], 0) if len(ok) else "n/a",
            "peak RSS (MiB)": fmt_stat(ok["peak_rss_mib"].dropna(), 0) if len(ok) and ok["peak_rss_mib"].notna().any() else "n/a",
        })
    return pd.DataFrame(rows).set_index("strategy")


def mean_matrix(run, strategy):
    """Element-wise mean of the complete matrices of strategy, or None."""
    ok = run.ok()
    Rs = [R for s, R in zip(ok["strategy"], ok["R"]) if s == strategy] if not ok.empty else []
    if not Rs:
        return None, 0
    return np.mean(np.stack(Rs), axis=0), len(Rs)


def average_accuracy_curve(R):
    """Mean accuracy over tasks 0..i after training on task i, for every row i."""
    return np.array([np.mean(R[i, : i + 1]) for i in range(R.shape[0])])


def curve_stats(run, strategy):
    """Mean and sample std over seeds of the average accuracy curve."""
    ok = run.ok()
    curves = [average_accuracy_curve(R) for s, R in zip(ok["strategy"], ok["R"]) if s == strategy] if not ok.empty else []
    if not curves:
        return None, None, 0
    C = np.stack(curves)
    std = C.std(axis=0, ddof=1) if len(curves) > 1 else np.zeros(C.shape[1])
    return C.mean(axis=0), std, len(curves)


def check_summary(run, tol=1e-9):
    """Compare metrics_table's means with summary.json; return the mismatches."""
    path = os.path.join(run.dir, "summary.json")
    if not os.path.exists(path):
        return ["no summary.json"]
    summ = _read_json(path)
    bad = []
    for s in summ.get("strategies") or []:
        ok = run.results[(run.results["strategy"] == s["strategy"]) & (run.results["status"] == "ok")]
        folder = {m.get("key") for m in summ.get("metrics") or [] if m.get("folder")}
        for k in run.metric_keys:
            if k in folder:  # computed from the other runs of the folder (intransigence): not in result.json
                continue
            st = (s.get("metrics") or {}).get(k)
            if st is None:
                bad.append(f"{s['strategy']} {k}: not in summary.json")
                continue
            vals = ok[k].dropna()
            if st["n"] != len(vals):
                bad.append(f"{s['strategy']} {k}: n {st['n']} vs {len(vals)}")
            elif st["n"] and not math.isclose(num(st["mean"]), float(vals.mean()), rel_tol=tol, abs_tol=tol):
                bad.append(f"{s['strategy']} {k}: mean {num(st['mean'])} vs {vals.mean()}")
    return bad


def mismatches(a, b):
    """The settings in which runs a and b differ and that make them incomparable."""
    out = []
    for k in MATCH_FIELDS:
        va, vb = a.config.get(k), b.config.get(k)
        if isinstance(va, float) or isinstance(vb, float):
            same = va is not None and vb is not None and math.isclose(num(va), num(vb))
        else:
            same = va == vb
        if not same:
            out.append(f"{k}: {b.label or b.dir} has {vb!r}, {a.label or a.dir} has {va!r}")
    for k in ("train_limit", "test_limit"):
        ea, eb = (a.config.get("extra") or {}), (b.config.get("extra") or {})
        if k in ea and k in eb and ea[k] != eb[k]:
            out.append(f"extra.{k}: {eb[k]!r} vs {ea[k]!r}")
    fa, fb = (a.config.get("data") or {}).get("files") or {}, (b.config.get("data") or {}).get("files") or {}
    for name in sorted(set(fa) & set(fb)):
        if fa[name].lower() != fb[name].lower():
            out.append(f"data file {name}: SHA-256 differs")
    return out


def _colors(n):
    import matplotlib.pyplot as plt

    cyc = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    return [cyc[i % len(cyc)] for i in range(n)]


def plot_heatmaps(run, strategies=None, cols=3):
    """One heatmap of the mean accuracy matrix per strategy, numbers in the cells."""
    import matplotlib.pyplot as plt

    strategies = [s for s in (strategies or run.strategies) if mean_matrix(run, s)[0] is not None]
    if not strategies:
        print("no complete accuracy matrix to plot")
        return None
    T = len(run.tasks)
    cols = min(cols, len(strategies))
    rows = math.ceil(len(strategies) / cols)
    size = max(3.2, 0.45 * T + 1.4)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols + 1, size * rows), squeeze=False, layout="constrained")
    for ax in axes.flat[len(strategies):]:
        ax.axis("off")
    for k, (ax, s) in enumerate(zip(axes.flat, strategies)):
        M, n = mean_matrix(run, s)
        im = ax.imshow(M, vmin=0, vmax=1, cmap="viridis")
        for i in range(T):
            for j in range(T):
                v = M[i, j]
                ax.text(j, i, "NaN" if math.isnan(v) else f"{v:.2f}", ha="center", va="center",
                        fontsize=8 if T <= 8 else 6, color="black" if v > 0.55 else "white")
        ax.set_xticks(range(T), run.tasks, rotation=0 if T <= 8 else 90)
        ax.set_yticks(range(T), run.tasks)
        ax.set_xlabel("evaluated task")
        if k % cols == 0:
            ax.set_ylabel("after training on task")
        ax.set_title(f"{s}: mean of {n} seed{'s' if n != 1 else ''}")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="accuracy")
    return fig


def plot_average_accuracy(runs, ax=None):
    """Average accuracy over the tasks seen so far, a line per strategy (per run), mean ± std shaded."""
    import matplotlib.pyplot as plt

    if isinstance(runs, Run):
        runs = [runs]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.2))
    series = [(r, s) for r in runs for s in r.strategies if curve_stats(r, s)[0] is not None]
    styles = ["-", "--", ":", "-."]
    for k, ((r, s), color) in enumerate(zip(series, _colors(len(series)))):
        mean, std, n = curve_stats(r, s)
        x = np.arange(1, len(mean) + 1)
        label = f"{s} ({r.label})" if len(runs) > 1 and r.label else s
        ls = styles[runs.index(r) % len(styles)]
        ax.plot(x, mean, ls, marker="o", ms=3.5, color=color, label=f"{label} (n={n})")
        if n > 1:
            ax.fill_between(x, np.clip(mean - std, 0, 1), np.clip(mean + std, 0, 1), color=color, alpha=0.2, lw=0)
    tasks = runs[0].tasks
    ax.set_xticks(range(1, len(tasks) + 1), tasks)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("after training on task")
    ax.set_ylabel("average accuracy on tasks seen so far")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title("Average accuracy (mean ± std over seeds)")
    return ax
