"""Read clgraph run directories (schemas clgraph.run/v1 and v2) with pandas.

The format is documented in results/README.md. This module needs only the
standard library, numpy, pandas and matplotlib; the notebooks next to it use
it, and so can any script:

    import clgraph_results as cr
    run = cr.load_run("results/runs/20260101-120000-split-mnist-task")
    cr.metrics_table(run)          # strategies x metrics, "mean ± std"
    cr.ci_table(run)               # strategies x metrics, "mean [low, high]" (95% CI)
    cr.comparisons_table(run)      # summary.json's paired t-tests between strategies
    run.metric_keys                # the metrics, as the run's files list them
    run.stat("ewc", "acc")         # a Stat: mean, std, n, ci95, undefined
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

# The metrics the paired t-tests compare (as Go's results.PairedMetrics, which
# writes summary.json's "comparisons"): ACC and BWT.
PAIRED_METRICS = ("acc", "bwt")

# The member of result.json's "metrics" that maps undefined metrics to the reason.
UNDEFINED = "undefined"
# Cost columns of Run.results.
COSTS = ["train_seconds", "eval_seconds", "steps_per_second", "params", "peak_rss_mib"]

# The settings two runs must share to be compared (as in results/report).
MATCH_FIELDS = ["stream", "scenario", "protocol", "tasks", "iterations", "batch_size", "learning_rate", "hidden"]

# Settings of config.json's "spec" that do not make runs incomparable (runspec's free fields,
# the per-run strategy and seed) or that MATCH_FIELDS already compares.
SPEC_SKIP = {
    "eval_batch", "init_from", "pretrain_classes", "pretrain_iterations", "step_log", "save_model",
    "data_dir", "checkpoint_every", "strategy", "seed",
    "stream", "scenario", "protocol", "tasks", "iterations", "batch", "lr", "hidden",
}


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
    # The metrics, in table order: dicts with "key", "label", "doc",
    # "headline", "primary", "lower_is_better", "folder" and "optional" (see
    # metric_listing).
    metrics: list = field(default_factory=list)
    # summary.json as written by the Go code ({} when the folder has none).
    summary: dict = field(default_factory=dict)

    def metric(self, key):
        """The listing entry of a metric (a dict as in metrics), or None."""
        for m in self.metrics:
            if m["key"] == key:
                return m
        return None

    def summary_strategy(self, strategy):
        """summary.json's entry of strategy ({} when there is none)."""
        for s in self.summary.get("strategies") or []:
            if s.get("strategy") == strategy:
                return s
        return {}

    def note(self, strategy):
        """summary.json's note of strategy ("task-IL, shared head"), or ""."""
        return self.summary_strategy(strategy).get("note") or ""

    def strategy_label(self, strategy):
        """The strategy's name in tables: its spec, with its note in
        parentheses when it has one ("naive:heads=single (task-IL, shared head)")."""
        n = self.note(strategy)
        return f"{strategy} ({n})" if n else strategy

    def stat(self, strategy, key):
        """The Stat of metric key for strategy as a dict {"mean", "std", "n",
        "ci95", "undefined"}: summary.json's when it has one (ci95 computed
        from mean, std and n when an older file lacks it), else computed from
        the "ok" results (folder metrics then have n = 0). ci95 is a
        (low, high) tuple, None when n < 2; undefined is "" when defined."""
        st = (self.summary_strategy(strategy).get("metrics") or {}).get(key)
        if st is not None:
            return normalize_stat(st)
        if self.results.empty or key not in self.results:
            return normalize_stat({})
        ok = self.results[(self.results["strategy"] == strategy) & (self.results["status"] == "ok")]
        return summarize(ok[key].dropna())

    @property
    def shown_metrics(self):
        """The entries of metrics that tables show: every one but the optional
        metrics (val_acc without validation splits) that no strategy has a
        value of (as Go's results.Shown)."""
        out = []
        for m in self.metrics:
            if m.get("optional") and not any(self.stat(s, m["key"])["n"] > 0 for s in self.all_strategies):
                continue
            out.append(m)
        return out

    @property
    def shown_keys(self):
        """The keys of shown_metrics."""
        return [m["key"] for m in self.shown_metrics]

    @property
    def all_strategies(self):
        """strategies, then any that only summary.json lists."""
        order = self.strategies
        for s in self.summary.get("strategies") or []:
            if s.get("strategy") and s["strategy"] not in order:
                order.append(s["strategy"])
        return order

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
    "key", "label", "doc", "headline", "primary", "lower_is_better", "folder"
    and "optional": summary.json's "metrics" listing when it has one
    (members a file lacks are False); otherwise (folders written before the
    listing) the keys of the result.json "metrics" objects given in
    result_metrics, then of summary.json's per-strategy metrics, in order of
    first appearance, with default_label labels, every one a headline metric
    and none a folder or optional metric."""
    summ = {}
    spath = os.path.join(path, "summary.json")
    if os.path.exists(spath):
        summ = _read_json(spath)
    listing = summ.get("metrics")
    if listing:
        return [{"key": m["key"], "label": m.get("label") or default_label(m["key"]), "doc": m.get("doc", ""),
                 "headline": bool(m.get("headline", True)), "primary": bool(m.get("primary", False)),
                 "lower_is_better": bool(m.get("lower_is_better", False)), "folder": bool(m.get("folder", False)),
                 "optional": bool(m.get("optional", False))} for m in listing]
    keys = []
    sources = list(result_metrics) + [s.get("metrics") or {} for s in summ.get("strategies") or []]
    for ms in sources:
        for k in ms or {}:
            if k != UNDEFINED and k not in keys:
                keys.append(k)
    return [{"key": k, "label": default_label(k), "doc": "", "headline": True, "primary": k == "acc",
             "lower_is_better": False, "folder": False, "optional": False} for k in keys]


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
    spath = os.path.join(path, "summary.json")
    summary = _read_json(spath) if os.path.exists(spath) else {}
    return Run(dir=path, config=config, results=df, label=label, tasks=tasks, metrics=metrics, summary=summary)


def fmt_stat(values, decimals=3):
    """Format values as "mean ± std" (sample std; "n/a" if empty), like Go's Stat."""
    v = np.asarray([x for x in values], dtype=float)
    if v.size == 0:
        return "n/a"
    mean = v.mean()
    std = v.std(ddof=1) if v.size > 1 else 0.0
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


# --- Student's t distribution (scipy when installed, else the standard library) ---

try:  # pragma: no cover - depends on the installation
    from scipy import stats as _scipy_stats
except ImportError:  # pragma: no cover
    _scipy_stats = None


def _betacf(a, b, x):
    """Continued fraction of the regularized incomplete beta function
    (modified Lentz's method, as in Numerical Recipes' betacf)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def betainc_reg(a, b, x):
    """The regularized incomplete beta function I_x(a, b), for a, b > 0 and x in [0, 1]."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t, df):
    """P(|T| >= |t|) under Student's t with df degrees of freedom (as Go's
    results.TTwoSidedP): 1 for t == 0, 0 for infinite t, NaN for df <= 0 or
    NaN t."""
    if not (df > 0) or math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 0.0
    if _scipy_stats is not None:
        return min(1.0, float(2 * _scipy_stats.t.sf(abs(t), df)))
    return min(1.0, betainc_reg(df / 2.0, 0.5, df / (df + t * t)))


def t_cdf(t, df):
    """The CDF of Student's t with df degrees of freedom."""
    if not (df > 0) or math.isnan(t):
        return math.nan
    if _scipy_stats is not None:
        return float(_scipy_stats.t.cdf(t, df))
    tail = 0.5 * t_two_sided_p(t, df)
    return 1.0 - tail if t > 0 else tail


def t_quantile(p, df):
    """The p-quantile of Student's t with df degrees of freedom (as Go's
    results.TQuantile): t_quantile(0.975, 4) = 2.7764. NaN when df <= 0 or p
    is outside (0, 1)."""
    if not (df > 0) or not (0 < p < 1):
        return math.nan
    if _scipy_stats is not None:
        return float(_scipy_stats.t.ppf(p, df))
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2


# --- Stats: mean, std, n and the 95% confidence interval ---

def summarize(values):
    """The Stat of values (as Go's results.Summarize): {"mean", "std" (sample,
    0 for one value), "n", "ci95" ((low, high): mean ± t(0.975, n-1)·std/√n,
    None when n < 2), "undefined": ""}."""
    v = np.asarray([x for x in values], dtype=float)
    n = int(v.size)
    if n == 0:
        return {"mean": 0.0, "std": 0.0, "n": 0, "ci95": None, "undefined": ""}
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "n": n, "ci95": _ci(mean, std, n), "undefined": ""}


def _ci(mean, std, n):
    if n < 2:
        return None
    h = t_quantile(0.975, n - 1) * std / math.sqrt(n)
    return (mean - h, mean + h)


def normalize_stat(st):
    """A Stat of summary.json ({"mean", "std", "n", "ci95": [low, high],
    "undefined"}; "NaN" strings or null for NaN) as summarize returns it.
    Files written before "ci95" have the interval computed from mean, std and n."""
    st = st or {}
    n = int(st.get("n") or 0)
    mean, std = num(st.get("mean", 0)), num(st.get("std", 0))
    ci = st.get("ci95")
    if ci is not None and len(ci) == 2:
        ci = (num(ci[0]), num(ci[1]))
    else:
        ci = _ci(mean, std, n)
    return {"mean": mean, "std": std, "n": n, "ci95": ci, "undefined": st.get("undefined") or ""}


def fmt_stat_dict(st, decimals=3):
    """Format a Stat (see Run.stat) as "mean ± std" like fmt_stat ("n/a" when n == 0)."""
    if st["n"] == 0:
        return "n/a"
    return f"{st['mean']:.{decimals}f} ± {st['std']:.{decimals}f}"


def fmt_ci(st, decimals=3):
    """Format a Stat (see Run.stat) as "mean [low, high]" (95% CI);
    "mean [n/a (n=1)]" for one value, whose spread is unknown;
    "undefined: <reason>" when n == 0 and the Stat says why; "n/a" otherwise."""
    n = st["n"]
    if n == 0:
        return f"undefined: {st['undefined']}" if st.get("undefined") else "n/a"
    if n == 1 or st.get("ci95") is None:
        return f"{st['mean']:.{decimals}f} [n/a (n=1)]"
    lo, hi = st["ci95"]
    return f"{st['mean']:.{decimals}f} [{lo:.{decimals}f}, {hi:.{decimals}f}]"


def fmt_p(p):
    """A p-value with two significant digits, "< 0.001" below that, "n/a" for NaN (as Go)."""
    if p is None or math.isnan(p):
        return "n/a"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.2g}"


def _p_eq(p):
    f = fmt_p(p)
    return f if f.startswith("<") else "= " + f


# --- Tables ---

def metrics_table(run, label_by_run=False):
    """Strategies (with their notes) x the shown metrics (run.shown_metrics,
    columns labelled): mean ± sample std over the "ok" results that have the
    metric ("n/a" if none). Folder metrics (intransigence, val_acc), which
    result.json lacks, come from summary.json's Stats."""
    rows = []
    for s in run.strategies:
        sub = run.results[run.results["strategy"] == s] if not run.results.empty else run.results
        ok = sub[sub["status"] == "ok"] if not sub.empty else sub
        name = run.strategy_label(s)
        row = {"strategy": f"{name} ({run.label})" if label_by_run and run.label else name,
               "ok": len(ok), "failed": len(sub) - len(ok)}
        for m in run.shown_metrics:
            k = m["key"]
            if m.get("folder"):
                row[m["label"]] = fmt_stat_dict(run.stat(s, k))
                continue
            vals = ok[k].dropna() if not ok.empty else []
            row[m["label"]] = fmt_stat(vals) if len(ok) else "n/a"
        rows.append(row)
    return pd.DataFrame(rows).set_index("strategy")


def ci_table(run, decimals=3, label_by_run=False):
    """Strategies (with their notes) x the shown metrics: "mean [low, high]",
    the mean over seeds with its 95% confidence interval (Student t, n-1
    degrees of freedom), from summary.json's Stats (computed from the
    results for folders without summary.json); "mean [n/a (n=1)]" for one
    seed, "undefined: <reason>" when no result has a value and summary.json
    says why, "n/a" otherwise. A cell marked "*" averages fewer results than
    the strategy has: the metric is undefined for the others (see
    undefined_notes)."""
    rows = []
    for s in run.all_strategies:
        name = run.strategy_label(s)
        row = {"strategy": f"{name} ({run.label})" if label_by_run and run.label else name, "seeds": _ok_count(run, s)}
        for m in run.shown_metrics:
            st = run.stat(s, m["key"])
            cell = fmt_ci(st, decimals)
            if st["n"] > 0 and st["undefined"]:
                cell += " *"
            row[m["label"]] = cell
        rows.append(row)
    return pd.DataFrame(rows, columns=["strategy", "seeds"] + [m["label"] for m in run.shown_metrics]).set_index("strategy")


def _ok_count(run, strategy):
    """The number of "ok" results of strategy (summary.json's "ok" when it has the strategy)."""
    ss = run.summary_strategy(strategy)
    if "ok" in ss:
        return int(ss["ok"])
    if run.results.empty:
        return 0
    return int(((run.results["strategy"] == strategy) & (run.results["status"] == "ok")).sum())


def undefined_notes(run):
    """Why metrics are undefined for some results: "strategy, label: reason"
    for each Stat with a reason (those of ci_table's "undefined" and "*" cells)."""
    out = []
    for s in run.all_strategies:
        for m in run.shown_metrics:
            st = run.stat(s, m["key"])
            if st["undefined"]:
                part = f" ({st['n']} with a value)" if st["n"] else ""
                out.append(f"{run.strategy_label(s)}, {m['label']}{part}: {st['undefined']}")
    return out


def comparisons(run):
    """summary.json's "comparisons" (paired t-tests between the strategies of
    the run, a − b), decoded: NaN for "NaN" strings and nulls. [] when the
    file has none (folders written before them, or no summary.json)."""
    out = []
    for c in run.summary.get("comparisons") or []:
        d = dict(c)
        for k in ("mean_diff", "ci95_low", "ci95_high", "t", "p", "p_holm"):
            d[k] = num(c.get(k))
        d["n"] = int(c.get("n") or 0)
        d["seeds"] = list(c.get("seeds") or [])
        d["undefined"] = c.get("undefined") or ""
        out.append(d)
    return out


def fmt_test(name, label, t, decimals=3):
    """ "name, label: +0.012 [-0.004, 0.028], p = 0.21 (Holm 0.42), n = 5", or
    "name, label: +0.012, n < 2: undefined (n = 1)" for the test t (a dict
    as comparisons and paired_t return)."""
    head = f"{name}, {label}: "
    mean = f"{t['mean_diff']:+.{decimals}f}, " if t["n"] >= 1 and not math.isnan(t["mean_diff"]) else ""
    if t["n"] < 2:
        return head + mean + f"n < 2: undefined (n = {t['n']})"
    if t["undefined"]:
        return head + mean + f"undefined: {t['undefined']}"
    return (head + f"{t['mean_diff']:+.{decimals}f} [{t['ci95_low']:.{decimals}f}, {t['ci95_high']:.{decimals}f}], "
            f"p {_p_eq(t['p'])} (Holm {fmt_p(t['p_holm'])}), n = {t['n']}")


def comparisons_table(run, decimals=3):
    """summary.json's paired t-tests, one row per pair and metric: the
    difference a − b of the metric over the seeds both ran, its 95% CI, the
    two-sided p and Holm's correction (over the pairs of each metric), and
    the line "ewc vs si, ACC: +0.012 [-0.004, 0.028], p = 0.21 (Holm 0.42),
    n = 5". None when summary.json has no "comparisons" (older folders)."""
    if "comparisons" not in run.summary:
        return None
    cs = comparisons(run)
    rows = []
    for t in cs:
        label = run.metric_label(t["metric"])
        rows.append({
            "metric": label, "a": run.strategy_label(t["a"]), "b": run.strategy_label(t["b"]),
            "n": t["n"], "seeds": ",".join(str(x) for x in t["seeds"]),
            "a − b": t["mean_diff"], "95% CI low": t["ci95_low"], "95% CI high": t["ci95_high"],
            "t": t["t"], "p": t["p"], "p (Holm)": t["p_holm"],
            "significant (Holm p < 0.05)": bool(t["p_holm"] < 0.05),
            "comparison": fmt_test(f"{t['a']} vs {t['b']}", label, t, decimals),
        })
    cols = ["metric", "a", "b", "n", "seeds", "a − b", "95% CI low", "95% CI high", "t", "p", "p (Holm)",
            "significant (Holm p < 0.05)", "comparison"]
    return pd.DataFrame(rows, columns=cols)


def paired_t(diffs):
    """The paired t-test of the differences (one per seed), as Go's
    results.PairedT: {"n", "mean_diff", "ci95_low", "ci95_high", "t", "p",
    "undefined"}; with fewer than 2 differences only the mean is set (NaN
    for the rest) and undefined says so. t is ±Inf when every difference is
    the same non-zero value, 0 (p = 1) when all are 0."""
    st = summarize(diffs)
    n, mean = st["n"], (st["mean"] if st["n"] else math.nan)
    out = {"n": n, "mean_diff": mean, "ci95_low": math.nan, "ci95_high": math.nan, "t": math.nan, "p": math.nan,
           "undefined": ""}
    if n < 2:
        out["undefined"] = f"needs at least 2 common seeds (n = {n})"
        return out
    se = st["std"] / math.sqrt(n)
    if se > 0:
        t = mean / se
    elif mean == 0:
        t = 0.0
    else:
        t = math.copysign(math.inf, mean)
    out.update(ci95_low=st["ci95"][0], ci95_high=st["ci95"][1], t=t, p=t_two_sided_p(t, n - 1))
    return out


def holm(ps):
    """Holm's step-down adjustment of the p-values ps (as Go's results.Holm):
    NaNs are left out of the family and stay NaN."""
    out = [math.nan] * len(ps)
    idx = sorted((i for i, p in enumerate(ps) if not math.isnan(p)), key=lambda i: ps[i])
    m, prev = len(idx), 0.0
    for k, i in enumerate(idx):
        prev = max(prev, min(1.0, (m - k) * ps[i]))
        out[i] = prev
    return out


def _seed_values(run, strategy, key):
    """seed -> value of key over the "ok" results of strategy that have one, in result order."""
    out = {}
    if run.results.empty or key not in run.results:
        return out
    sub = run.results[(run.results["strategy"] == strategy) & (run.results["status"] == "ok")]
    for seed, v in zip(sub["seed"], sub[key]):
        if not math.isnan(v) and seed not in out:
            out[int(seed)] = float(v)
    return out


def paired_between_runs(a, b, metrics=PAIRED_METRICS, decimals=3):
    """For each strategy in both runs and each metric of metrics (default ACC
    and BWT) both runs have: the paired t-test of B − A over the seeds both
    ran successfully with a value of it, with its 95% CI, and p Holm-corrected
    over the strategies of each metric. Strategies with fewer than 2 common
    seeds are listed as "n < 2: undefined" (and left out of the Holm family)."""
    common = [s for s in a.strategies if s in b.strategies]
    rows = []
    for k in metrics:
        if k not in a.metric_keys or k not in b.metric_keys:
            continue
        label = a.metric_label(k)
        family = []
        for s in common:
            va, vb = _seed_values(a, s, k), _seed_values(b, s, k)
            seeds = [sd for sd in va if sd in vb]
            t = paired_t([vb[sd] - va[sd] for sd in seeds])
            t.update(metric=label, strategy=a.strategy_label(s), seeds=",".join(map(str, seeds)))
            family.append(t)
        for t, ph in zip(family, holm([t["p"] for t in family])):
            t["p_holm"] = ph
            t["comparison"] = fmt_test(t["strategy"], f"{label} B − A", t, decimals)
        rows += family
    cols = ["metric", "strategy", "n", "seeds", "mean_diff", "ci95_low", "ci95_high", "t", "p", "p_holm", "comparison"]
    df = pd.DataFrame(rows, columns=cols)
    return df.rename(columns={"mean_diff": "B − A", "ci95_low": "95% CI low", "ci95_high": "95% CI high",
                              "p_holm": "p (Holm)"})


def _mean(run, strategy, key):
    """The mean of metric key over the "ok" results of strategy (summary.json's
    Stat for folder metrics, which result.json lacks); NaN without a value."""
    m = run.metric(key) or {}
    if m.get("folder"):
        st = run.stat(strategy, key)
        return st["mean"] if st["n"] else math.nan
    vals = list(_seed_values(run, strategy, key).values())
    return float(np.mean(vals)) if vals else math.nan


def mean_diff_table(a, b):
    """B − A of the mean of each metric shown in either run (from the
    result.json files; folder metrics from summary.json), for the strategies
    in both runs; NaN where either has no value."""
    common = [s for s in a.strategies if s in b.strategies]
    shown = set(a.shown_keys) | set(b.shown_keys)
    keys = [k for k in a.metric_keys if k in b.metric_keys and k in shown]
    rows = []
    for s in common:
        row = {"strategy": a.strategy_label(s),
               "seeds A": int(((a.results["strategy"] == s) & (a.results["status"] == "ok")).sum()),
               "seeds B": int(((b.results["strategy"] == s) & (b.results["status"] == "ok")).sum())}
        for k in keys:
            row[a.metric_label(k)] = _mean(b, s, k) - _mean(a, s, k)
        rows.append(row)
    return pd.DataFrame(rows, columns=["strategy", "seeds A", "seeds B"] + [a.metric_label(k) for k in keys]).set_index("strategy")


def cost_table(run):
    """Strategies x cost: mean ± sample std over the "ok" results."""
    rows = []
    for s in run.strategies:
        ok = run.results[(run.results["strategy"] == s) & (run.results["status"] == "ok")] if not run.results.empty else run.results
        rows.append({
            "strategy": run.strategy_label(s),
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
    # Every other setting of the run spec (padding, normalisation, optimiser, model, ...); a
    # setting left out of a spec is its zero value (Go's omitempty).
    sa, sb = a.config.get("spec") or {}, b.config.get("spec") or {}
    if sa and sb:
        for k in sorted((set(sa) | set(sb)) - SPEC_SKIP):
            va, vb = sa.get(k), sb.get(k)
            if (va or None) != (vb or None):
                out.append(f"spec.{k}: {b.label or b.dir} has {vb!r}, {a.label or a.dir} has {va!r}")
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


def plot_stability_plasticity(run, x="learning_accuracy", y="forgetting", ax=None):
    """Stability against plasticity: a point per strategy at the mean of
    metric x (default learning accuracy: how well each task is learnt, the
    plasticity) and of metric y (default forgetting: how much is lost later,
    the instability), with error bars of the sample std over seeds (none for
    one seed). Strategies without a value of both are left out. Returns the
    axes, or None when no strategy has both."""
    import matplotlib.pyplot as plt

    points = []
    for s in run.all_strategies:
        sx, sy = run.stat(s, x), run.stat(s, y)
        if sx["n"] and sy["n"] and not (math.isnan(sx["mean"]) or math.isnan(sy["mean"])):
            points.append((s, sx, sy))
    if not points:
        print(f"no strategy has both {run.metric_label(x)} and {run.metric_label(y)}")
        return None
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 5))
    for (s, sx, sy), color in zip(points, _colors(len(points))):
        n = min(sx["n"], sy["n"])
        ax.errorbar(sx["mean"], sy["mean"], xerr=sx["std"] if sx["n"] > 1 else None,
                    yerr=sy["std"] if sy["n"] > 1 else None, fmt="o", ms=6, capsize=3, color=color,
                    label=f"{run.strategy_label(s)} (n={n})")
        ax.annotate(s, (sx["mean"], sy["mean"]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    mx, my = run.metric(x) or {}, run.metric(y) or {}
    hint = []
    hint.append("left" if mx.get("lower_is_better") else "right")
    hint.append("down" if my.get("lower_is_better", y == "forgetting") else "up")
    ax.set_xlabel(f"{run.metric_label(x)} (plasticity)" if x == "learning_accuracy" else run.metric_label(x))
    ax.set_ylabel(f"{run.metric_label(y)} (instability)" if y == "forgetting" else run.metric_label(y))
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title(f"Stability vs plasticity (mean ± std over seeds; better: {' and '.join(hint)})")
    return ax
