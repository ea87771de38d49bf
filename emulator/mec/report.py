"""PNG report of an MEC run: the placement with the last assignment, and the objective and task costs over time."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen before pyplot loads)
import numpy as np  # noqa: E402

if TYPE_CHECKING:
    from emulator.mec.subsystem import MecSubsystem


def write_report(mec: "MecSubsystem", run_dir: Path) -> list[Path]:
    """mec_map.png and mec_epochs.png in `run_dir`; returns the paths written."""
    return [_map(mec, run_dir / "mec_map.png"), _epochs(mec, run_dir / "mec_epochs.png")]


def draw_assignment(ax, mec: "MecSubsystem", device_size: float, server_size: float) -> None:
    """The assignment in force on `ax`: a line from each offloading IoTD to its server, local IoTDs
    hollow, servers as squares (tab10 colour per server; legend labels for the first ten)."""
    geo, a = mec.geo, np.asarray(mec.last_assignment)
    colours = plt.get_cmap("tab10")
    for i, (x, y) in enumerate(geo.device_xy):
        if a[i] > 0:
            sx, sy = geo.server_xy[a[i] - 1]
            ax.plot([x, sx], [y, sy], color=colours((a[i] - 1) % 10), lw=0.6, alpha=0.6)
    local = a == 0
    ax.scatter(geo.device_xy[local, 0], geo.device_xy[local, 1], s=device_size, marker="o", facecolors="none",
               edgecolors="k", label="IoTD, local")
    for j in range(mec.num_servers):
        on = a == j + 1
        ax.scatter(geo.device_xy[on, 0], geo.device_xy[on, 1], s=device_size, color=colours(j % 10))
        ax.scatter(*geo.server_xy[j], s=server_size, marker="s", color=colours(j % 10), edgecolors="k",
                   label=f"MEC server {j}" if j < 10 else None)


def _map(mec: "MecSubsystem", path: Path) -> Path:
    geo = mec.geo
    xmin, xmax, ymin, ymax = mec.area
    fig, ax = plt.subplots(figsize=(7, 7 * (ymax - ymin) / (xmax - xmin)), dpi=120)
    ax.add_patch(plt.Rectangle((xmin, ymin), xmax - xmin, ymax - ymin, fill=False, ls="--", ec="0.6"))
    draw_assignment(ax, mec, device_size=18, server_size=140)
    ax.scatter(geo.site_xy[:, 0], geo.site_xy[:, 1], s=60, marker="^", color="none", edgecolors="k", label="site")
    ax.set_title(f"MEC assignment at step {max(mec.step - 1, 0)} (policy {mec.policy_name})")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.set_aspect("equal")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _epochs(mec: "MecSubsystem", path: Path) -> Path:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), dpi=120)
    done = mec._done
    if done:
        steps = [r["step"] for r in done]
        ax1.plot(steps, [r["objective"] for r in done], "o-", ms=3, label="realised Φ")
        ax1.plot(steps, [r["predicted_objective"] for r in done], "x--", ms=3, label="planned Φ (no queueing)")
        ax1.legend()
    ax1.set_xlabel("decision step")
    ax1.set_ylabel("objective Φ = Σ φ_T·T + φ_E·E")
    ax1.set_title("objective per batch")
    tasks = mec.emu.traces.table("mec_tasks").to_pandas()
    if len(tasks):
        for label, sel in (("local", tasks["target"] == 0), ("offloaded", tasks["target"] > 0)):
            if sel.any():
                t = np.sort(tasks.loc[sel, "time_s"].to_numpy())
                ax2.step(t, np.arange(1, t.size + 1) / t.size, where="post", label=f"{label} ({t.size} tasks)")
        ax2.legend()
    ax2.set_xlabel("task time T [s]")
    ax2.set_ylabel("CDF")
    ax2.set_title("task completion time")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
