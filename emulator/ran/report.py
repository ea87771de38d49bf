"""RAN run report: PNGs of masks, per-slice throughput/delay/satisfaction over time and reward per cell."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

# Up to this many cells get one line each in distinct colours (tab20); more cells: a heatmap.
MAX_CELL_LINES = 20


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_masks(mask_log: list[tuple[float, np.ndarray]], slice_names: list[str], path: Path) -> Path:
    """Step plot of each slice's traffic mask (value in force from each mask step on)."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    if mask_log:
        t = np.array([m[0] for m in mask_log])
        v = np.vstack([m[1] for m in mask_log])
        for s, name in enumerate(slice_names):
            ax.step(t, v[:, s], where="post", label=name)
    ax.set_xlabel("time [s]")
    ax.set_ylabel("traffic mask")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Traffic masks (share of each UE group active)")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_per_slice(df, column: str, ylabel: str, scale: float, path: Path, req_column: str | None = None,
                   title: str = "") -> Path:
    """One panel per slice: the per-period value averaged over cells (band: min–max over cells),
    requirement lines dashed; one legend names all three. Time is the end of each decision period."""
    names = list(dict.fromkeys(df["slice_name"]))
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 1.9 * len(names) + 0.9), sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        d = df[df["slice_name"] == name]
        g = d.groupby("time")[column]
        mean, lo, hi = g.mean() * scale, g.min() * scale, g.max() * scale
        ax.fill_between(mean.index, lo.values, hi.values, alpha=0.2, step=None, color="tab:blue")
        ax.plot(mean.index, mean.values, lw=1.2, color="tab:blue")
        if req_column is not None:
            for req in sorted(set(d[req_column])):
                ax.axhline(req * scale, color="k", ls="--", lw=0.8)
        ax.set_ylabel(f"{name}\n{ylabel}", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time at the end of each decision period [s]")
    axes[0, 0].set_title(title)
    handles = [Line2D([], [], color="tab:blue", lw=1.2, label="mean over cells"),
               Patch(color="tab:blue", alpha=0.2, label="min–max over cells")]
    if req_column is not None:
        handles.append(Line2D([], [], color="k", ls="--", lw=0.8, label="requirement (per cell group)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_rewards(df, path: Path) -> Path:
    """Reward r_k of every cell over time and their mean: one distinct colour per cell up to
    MAX_CELL_LINES cells (tab20), a cell × time heatmap beyond."""
    per_cell = df.drop_duplicates(["time", "cell"]).pivot(index="time", columns="cell", values="reward")
    if len(per_cell.columns) > MAX_CELL_LINES:
        fig, (ax, bx) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
        t = per_cell.index.to_numpy(float)
        im = ax.imshow(per_cell.to_numpy(float).T, aspect="auto", origin="lower", vmin=0.0, vmax=1.0,
                       cmap="viridis", extent=(t[0], t[-1], -0.5, len(per_cell.columns) - 0.5),
                       interpolation="nearest")
        fig.colorbar(im, ax=ax, label="reward r_k (higher is better)")
        ax.set_ylabel("cell")
        ax.set_title("Reward per cell (min slice satisfaction)")
        bx.plot(per_cell.index, per_cell.mean(axis=1).values, color="k", lw=1.5, label="mean over cells")
        bx.set_ylim(-0.02, 1.05)
        bx.set_ylabel("mean r_k")
        bx.legend(loc="lower left", fontsize=8)
        bx.grid(alpha=0.3)
        bx.set_xlabel("time at the end of each decision period [s]")
        return _save(fig, path)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    colours = plt.get_cmap("tab20")(np.arange(len(per_cell.columns)) % 20)
    for c, colour in zip(per_cell.columns, colours):
        ax.plot(per_cell.index, per_cell[c].values, lw=0.8, alpha=0.8, color=colour, label=f"cell {c}")
    ax.plot(per_cell.index, per_cell.mean(axis=1).values, color="k", lw=1.8, label="mean")
    ax.set_xlabel("time at the end of each decision period [s]")
    ax.set_ylabel("reward r_k (higher is better)")
    ax.set_ylim(-0.02, 1.05)
    ax.set_title("Reward per cell (min slice satisfaction)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def write_report(df, mask_log, slice_names: list[str], run_dir: Path) -> list[Path]:
    """Write the PNG set into `run_dir`; returns the files written (none without trace rows)."""
    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [plot_masks(mask_log, slice_names, out / "ran_masks.png")]
    if df is None or len(df) == 0:
        return files
    files.append(plot_per_slice(df, "throughput_bps", "Mbit/s", 1e-6, out / "ran_throughput.png", "req_throughput_bps",
                                "Average user throughput per slice (dashed: requirements)"))
    files.append(plot_per_slice(df, "delay_s", "ms", 1e3, out / "ran_delay.png", "req_delay_s",
                                "Average packet delay per slice (dashed: requirements)"))
    files.append(plot_per_slice(df, "satisfaction", "satisfaction", 1.0, out / "ran_satisfaction.png", None,
                                "Slice satisfaction min(φ/φ*, d*/d, 1)"))
    files.append(plot_per_slice(df, "load", "load", 1.0, out / "ran_load.png", None,
                                "Slice load (share of the cell's PRB-time used)"))
    files.append(plot_rewards(df, out / "ran_reward.png"))
    return files
