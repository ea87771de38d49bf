"""The slicing paper's evaluation metrics: per step × cell × slice KPI tables, their summary numbers and figures.

Source: Hu et al. (papers/slicing-transfer-learning-madrl.txt) §V.3. Per (step, cell) sample:
- minimum per-slice throughput satisfaction  m = min over slices n of min(φ_n / φ*_n, 1);
  a slice without traffic in the period (throughput NaN) counts as satisfied (1), as in the
  emulator's reward (emulator/ran/kpi.py);
- maximum per-slice delay  D = max over slices n of d_n (ms), over the slices that had traffic.
The paper reports, per method, P(m < 0.95) (its Fig. 5: "about 12 % fail to satisfy 0.95 of the
requirement"), the mean of m, and the mean of D (Fig. 6: "1.5 ms maximum average per-slice
delay"); we add the median and 90th percentile of D. Fig. 5 is the CCDF of m, Fig. 6 the CDF of D.

Learners and baselines see the same KPIs through the env's `info` (the slice-partition point's
`cell_info`), so `KpiLog` records them from there; nothing here imports the emulator.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

# The paper's numbers (§V.3), per method: P(m < 0.95), mean m, mean D [ms].
PAPER = {
    "baseline": {"p_thr_sat_below_095": 0.25, "mean_min_thr_sat": 0.87, "mean_max_delay_ms": 1.8},
    "drl": {"p_thr_sat_below_095": 0.19, "mean_min_thr_sat": 0.90, "mean_max_delay_ms": 1.7},
    "tl": {"p_thr_sat_below_095": 0.12, "mean_min_thr_sat": 0.92, "mean_max_delay_ms": 1.5},
}
THRESHOLD = 0.95

# Per-slice fields of the point's info that go into the table (info key → column).
_INFO_FIELDS = {"throughput_bps": "throughput_bps", "delay_s": "delay_s", "satisfaction": "satisfaction",
                "load": "load", "active_users": "active_users", "shares": "share",
                "demand_bps": "demand_next_bps", "req_throughput_bps": "req_throughput_bps",
                "req_delay_s": "req_delay_s", "neighbour_load": "neighbour_load"}
KPI_COLUMNS = ["method", "seed", "step", "phase", "cell", "slice", "slice_name", *_INFO_FIELDS.values(), "reward"]


class KpiLog:
    """Collects one row per step × cell × slice from the env's per-role infos (after each `step`).

    `shares` are the shares in force during the period the KPIs measure (the action just taken);
    `demand_next_bps` is the traffic-aware baseline's perfect-knowledge demand for the next period.
    """

    def __init__(self, method: str, seed: int):
        self.method, self.seed = method, int(seed)
        self._cols: dict[str, list] = {c: [] for c in KPI_COLUMNS}

    def add(self, step: int, phase: str, infos: Mapping[str, Mapping[str, Any]], rewards: Mapping[str, float]) -> None:
        for role, info in infos.items():
            if "end" in info or "throughput_bps" not in info:
                continue  # the world ended before this period: no KPIs were measured for it
            names = list(info["slices"])
            n = len(names)
            c = self._cols
            c["method"] += [self.method] * n
            c["seed"] += [self.seed] * n
            c["step"] += [int(step)] * n
            c["phase"] += [phase] * n
            c["cell"] += [int(info["cell"])] * n
            c["slice"] += list(range(n))
            c["slice_name"] += names
            for key, col in _INFO_FIELDS.items():
                c[col] += [float(v) for v in info[key]]
            c["reward"] += [float(rewards[role])] * n

    def __len__(self) -> int:
        return len(self._cols["step"])

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self._cols, columns=KPI_COLUMNS)
        return df.astype({"seed": "int64", "step": "int64", "cell": "int64", "slice": "int64"})


def cell_samples(kpis: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, seed, step, cell): `min_thr_sat` (m) and `max_delay_ms` (D, NaN if no slice had traffic).

    Input: a KPI table with at least method, seed, step, cell, throughput_bps, req_throughput_bps, delay_s.
    """
    thr = kpis["throughput_bps"].to_numpy(float)
    req = kpis["req_throughput_bps"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        sat = np.where(np.isnan(thr), 1.0, np.minimum(thr / req, 1.0))
    df = kpis[["method", "seed", "step", "cell"]].copy()
    df["thr_sat"] = sat
    df["delay_ms"] = kpis["delay_s"].to_numpy(float) * 1e3
    g = df.groupby(["method", "seed", "step", "cell"], sort=True)
    out = g.agg(min_thr_sat=("thr_sat", "min"), max_delay_ms=("delay_ms", "max")).reset_index()
    return out


def summarize(samples: pd.DataFrame) -> dict[str, float]:
    """The paper's numbers over (step, cell) samples: P(m < 0.95), mean m, mean / median / p90 of D."""
    m = samples["min_thr_sat"].to_numpy(float)
    d = samples["max_delay_ms"].to_numpy(float)
    d = d[~np.isnan(d)]
    return {"samples": int(m.size),
            "p_thr_sat_below_095": float(np.mean(m < THRESHOLD)) if m.size else float("nan"),
            "mean_min_thr_sat": float(m.mean()) if m.size else float("nan"),
            "mean_max_delay_ms": float(d.mean()) if d.size else float("nan"),
            "median_max_delay_ms": float(np.median(d)) if d.size else float("nan"),
            "p90_max_delay_ms": float(np.percentile(d, 90)) if d.size else float("nan")}


def paper_metrics(kpis: pd.DataFrame, phase: str | None = "evaluation") -> dict[str, Any]:
    """Per method: `summarize` pooled over seeds and per seed; rows restricted to `phase` (None: all rows)."""
    if phase is not None:
        kpis = kpis[kpis["phase"] == phase]
    samples = cell_samples(kpis)
    out: dict[str, Any] = {}
    for method, s in samples.groupby("method", sort=True):
        out[str(method)] = {"pooled": summarize(s),
                            "per_seed": {str(seed): summarize(g) for seed, g in s.groupby("seed", sort=True)}}
    return out


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % Student-t confidence interval (NaN half-width for < 2 values)."""
    x = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size < 2:
        return float(x.mean()), float("nan")
    return float(x.mean()), float(t975(x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))


# Student-t 0.975 quantiles for 1..30 degrees of freedom (any statistics table); 1.96 (normal) beyond.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with `df` ≥ 1 degrees of freedom (table to 30, then the normal 1.96)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    return _T975[df - 1] if df <= len(_T975) else 1.96


def write_metrics(kpis: pd.DataFrame, out: Path, phase: str | None = "evaluation", label: str = "") -> dict[str, Any]:
    """kpis.parquet, metrics.json, ccdf_min_thr_sat.png and cdf_max_delay.png into `out`; returns the metrics."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kpis.to_parquet(out / "kpis.parquet", index=False)
    metrics = {"phase": phase, "threshold": THRESHOLD, "methods": paper_metrics(kpis, phase)}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    sel = kpis if phase is None else kpis[kpis["phase"] == phase]
    plot_distributions(cell_samples(sel), out, label)
    return metrics


def plot_distributions(samples: pd.DataFrame, out: Path, label: str = "") -> list[Path]:
    """The paper's Fig. 5 (CCDF of m) and Fig. 6 (CDF of D), methods overlaid, pooled over seeds and cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    suffix = f" ({label})" if label else ""
    for column, name, xlabel, ccdf in (
            ("min_thr_sat", "ccdf_min_thr_sat.png", "minimum per-slice throughput satisfaction min_n min(φ/φ*, 1)", True),
            ("max_delay_ms", "cdf_max_delay.png", "maximum per-slice delay max_n d_n [ms]", False)):
        fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
        for method, s in samples.groupby("method", sort=True):
            x = np.sort(s[column].dropna().to_numpy(float))
            if not x.size:
                continue
            if ccdf:  # P(X > x) just after each sample: 1 − F(x)
                y = 1.0 - np.arange(1, x.size + 1) / x.size
            else:
                y = np.arange(1, x.size + 1) / x.size
            ax.step(x, y, where="post", label=f"{method} (n={x.size})")
        if ccdf:
            ax.axvline(THRESHOLD, color="0.5", ls=":", lw=1, label="0.95 (paper's threshold)")
            ax.set_ylabel("CCDF 1 − F(x)")
            ax.set_title("Minimum per-slice throughput satisfaction" + suffix)
        else:
            ax.set_ylabel("CDF F(x)")
            ax.set_title("Maximum per-slice delay" + suffix)
        ax.set_xlabel(xlabel)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        fig.savefig(out / name)
        plt.close(fig)
        paths.append(out / name)
    return paths
