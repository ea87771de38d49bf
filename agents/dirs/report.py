"""Tables and figures of the MEC paper's §VI, ours beside the paper's: CSV + PNG (and Markdown for tables)."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend first)
import numpy as np  # noqa: E402

# Paper values (papers/mec-dirs-ensemble-drl.txt).
PAPER_TABLE2 = {  # demonstrations: (L1 train, L1 test, LD train, LD test) accuracy in %
    64: (90.8, 90.1, 90.3, 85.5), 128: (92.4, 91.8, 92.2, 89.8),
    256: (96.7, 96.3, 96.6, 93.4), 512: (96.7, 96.5, 96.6, 94.3),
}
PAPER_TABLE3 = {  # method: (training time s, inference time s, average reward)
    "DIRS": (2970.84, 0.0165, 0.0348), "Actor-Critic": (3482.72, 0.0195, 0.0309), "DDPG": (3823.15, 0.0192, 0.0317),
}
# Student-t 97.5 % quantiles for 95 % confidence intervals of a mean over k seeds (df = k − 1).
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def mean_ci(values: Iterable[float]) -> tuple[float, float, int]:
    """(mean, half-width of the 95 % CI by Student's t over the values, count); NaN width for one value."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=float)
    if v.size == 0:
        return float("nan"), float("nan"), 0
    if v.size == 1:
        return float(v[0]), float("nan"), 1
    t = _T975.get(v.size - 1, 1.96)
    return float(v.mean()), float(t * v.std(ddof=1) / math.sqrt(v.size)), int(v.size)


def fmt(mean: float, half: float, digits: int = 3) -> str:
    if math.isnan(mean):
        return "n/a"
    if math.isnan(half):
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {half:.2g}"


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    return path


def write_markdown(path: Path, title: str, rows: Sequence[dict[str, Any]], note: str = "") -> Path:
    keys = list(rows[0]) if rows else []
    lines = [f"# {title}", ""]
    if note:
        lines += [note, ""]
    lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def smooth(y: Sequence[float], window: int) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if y.size == 0 or window <= 1:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    out = np.empty_like(y)
    for i in range(y.size):
        lo = max(0, i - window + 1)
        out[i] = (c[i + 1] - c[lo]) / (i + 1 - lo)
    return out


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_table2(rows: list[dict[str, Any]], path: Path) -> Path:
    """Accuracy vs demonstrations, ours (mean over seeds) and the paper's, with and without L2."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=120, sharey=True)
    for ax, split in zip(axes, ("train", "test")):
        for loss, style in (("L1", "-"), ("LD", "--")):
            sel = [r for r in rows if r["loss"] == loss]
            xs = [r["demonstrations"] for r in sel]
            ax.errorbar(xs, [100 * r[f"{split}_acc"] for r in sel], yerr=[100 * np.nan_to_num(r[f"{split}_ci"]) for r in sel],
                        marker="o", ls=style, capsize=2, label=f"ours, {loss}")
            k = 0 if loss == "L1" else 2
            ax.plot(list(PAPER_TABLE2), [v[k + (split == "test")] for v in PAPER_TABLE2.values()], marker="s",
                    ls=style, color="0.5", label=f"paper, {loss}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("demonstrations")
        ax.set_title(f"{split}ing accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("decision accuracy [%]")
    fig.suptitle("Table II: imitation pre-training accuracy (L1 = with the L2 term, LD = without)")
    return _save(fig, path)


def plot_losses(losses: list[list[float]], path: Path, train_interval: int) -> Path:
    arr = np.asarray(losses, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for j in range(arr.shape[1] if arr.ndim == 2 else 0):
        ax.plot(np.arange(1, arr.shape[0] + 1), arr[:, j], lw=1, label=f"agent {j + 1}")
    ax.set_xlabel(f"update (one every δ = {train_interval} epochs)")
    ax.set_ylabel("loss L_1 + λ2·L_A")
    ax.set_title("Fig. 5: loss of each agent during online training")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_time_energy(time_s: np.ndarray, energy_j: np.ndarray, path: Path, window: int) -> Path:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    x = np.arange(1, len(time_s) + 1)
    a1.plot(x, time_s, color="tab:blue", alpha=0.25, lw=0.6)
    a1.plot(x, smooth(time_s, window), color="tab:blue", lw=1.5, label=f"{window}-epoch mean")
    a1.set_ylabel("average task time T [s]")
    a2.plot(x, energy_j, color="tab:red", alpha=0.25, lw=0.6)
    a2.plot(x, smooth(energy_j, window), color="tab:red", lw=1.5, label=f"{window}-epoch mean")
    a2.set_ylabel("average device energy E [J]")
    for ax, t in ((a1, "(a) time"), (a2, "(b) energy")):
        ax.set_yscale("log")  # rare deep-fade uploads are 10–100× the typical epoch
        ax.set_xlabel("training epoch (iteration)")
        ax.set_title(t)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Fig. 6: average time and energy per task during training (DIRS, realised)")
    return _save(fig, path)


def plot_levy(proposed: np.ndarray, classic: np.ndarray, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    x = np.arange(len(proposed))
    ax.plot(x, classic, label="classic Lévy flight (eq. 23)")
    ax.plot(x, proposed, label="proposed Lévy flight search (Alg. 4)")
    ax.set_xlabel("iteration G")
    ax.set_ylabel("fitness Φ (mean over instances)")
    ax.set_title("Fig. 7: action refinement by the two Lévy flights")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_rewards(curves: dict[str, np.ndarray], path: Path, window: int, paper_reward: float = 0.0348) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    for label, y in curves.items():
        ax.plot(np.arange(1, len(y) + 1), smooth(y, window), lw=1.4, label=label)
    ax.axhline(paper_reward, color="0.5", ls=":", label=f"paper's DIRS average reward ({paper_reward})")
    ax.set_xlabel("training epoch (iteration)")
    ax.set_ylabel(f"average reward 1/Φ ({window}-epoch mean)")
    ax.set_title("Fig. 8: reward during training, with and without Lévy search and imitation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_table3(rows: list[dict[str, Any]], path: Path) -> Path:
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), dpi=120)
    names = [r["method"] for r in rows]
    x = np.arange(len(names))
    for ax, (key, paper_idx, label) in zip(axes, (("train_s", 0, "training time [s]"),
                                                  ("inference_s", 1, "inference time per epoch [s]"),
                                                  ("reward", 2, "average reward 1/Φ"))):
        ax.bar(x - 0.2, [r[key] for r in rows], 0.4, yerr=[np.nan_to_num(r.get(key + "_ci", 0.0)) for r in rows],
               capsize=2, label="ours")
        ax.bar(x + 0.2, [PAPER_TABLE3[n][paper_idx] for n in names], 0.4, color="0.6", label="paper")
        ax.set_xticks(x, names)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    fig.suptitle("Table III: DIRS vs DRL baselines (ours on a shared, loaded CPU; paper on its hardware)")
    return _save(fig, path)


def plot_sweep(rows: list[dict[str, Any]], x_key: str, x_label: str, path: Path, title: str) -> Path:
    """Mean Φ ± 95 % CI per policy against `x_key` (rows: one per x and policy)."""
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    markers = {"dirs": "*", "greedy": "o", "random": "^", "local": "+", "near_opt": "x", "optimal": "D"}
    labels = {"dirs": "DIRS (proposed)", "greedy": "greedy", "random": "random", "local": "local",
              "near_opt": "near-optimal (1-opt descent)", "optimal": "exact optimum"}
    for pol in markers:
        sel = sorted((r for r in rows if r["policy"] == pol and not math.isnan(r["phi"])), key=lambda r: r[x_key])
        if sel:
            ax.errorbar([r[x_key] for r in sel], [r["phi"] for r in sel], yerr=[np.nan_to_num(r["ci"]) for r in sel],
                        marker=markers[pol], capsize=2, label=labels[pol])
    ax.set_xlabel(x_label)
    ax.set_ylabel("objective Φ = Σ φ_T·T + φ_E·E (s + J)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
