"""`render_mode="rgb_array"` for the in-process envs: a map of the world now, as an (H, W, 3) uint8 array.

RAN worlds: sites, UEs coloured by their serving cell (active UEs filled), and beside the map each
cell's slice shares in force as stacked bars — the picture mobile-env users expect. MEC worlds: the
MEC report's assignment map (devices linked to the server they offload to). Drawn with matplotlib's
Agg canvas, no file and no display involved.
"""
from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from emulator.mec.report import draw_assignment  # noqa: E402

# Figure size of a frame: 9.6 × 4.8 inches at 80 dpi → 768 × 384 pixels.
FIGSIZE_IN = (9.6, 4.8)
DPI = 80


def cell_colours(n: int) -> np.ndarray:
    """n distinct RGBA colours: tab20 up to 20 cells, evenly spaced hues beyond (no repeats)."""
    if n <= 20:
        return plt.get_cmap("tab20")(np.arange(n) % 20)
    return plt.get_cmap("hsv")(np.linspace(0.0, 1.0, n, endpoint=False))


def _to_array(fig) -> np.ndarray:
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return img


def _ran_frame(ran: Any, now: float) -> np.ndarray:
    fig, (ax, bx) = plt.subplots(1, 2, figsize=FIGSIZE_IN, dpi=DPI, gridspec_kw={"width_ratios": [1.2, 1.0]})
    xy = ran.mobility.xy
    serving = ran.engine.serving
    C, names = ran.C, ran.slice_names
    colours = cell_colours(C)
    active = ran.active
    ax.scatter(xy[~active, 0], xy[~active, 1], s=6, facecolors="none", edgecolors=colours[serving[~active]], lw=0.5)
    ax.scatter(xy[active, 0], xy[active, 1], s=8, c=colours[serving[active]])
    sites = np.array([d["pos"] for _, d in ran.emu.graph.nodes(data=True) if d.get("kind") == "site"])
    if len(sites):
        ax.scatter(sites[:, 0], sites[:, 1], marker="^", s=50, c="k")
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.set_title(f"UEs by serving cell, t = {now:g} s", fontsize=9)
    ax.legend(handles=[Line2D([], [], marker="^", ls="", color="k", label="site"),
                       Line2D([], [], marker="o", ls="", color="0.3", label="active UE"),
                       Line2D([], [], marker="o", ls="", mfc="none", color="0.3", label="idle UE")],
              loc="upper right", fontsize=7)
    shares = ran.engine.shares
    left = np.zeros(C)
    slice_colours = plt.get_cmap("Set2")(np.arange(len(names)) % 8)
    for s, name in enumerate(names):
        bx.barh(np.arange(C), shares[:, s], left=left, color=slice_colours[s], label=name)
        left += shares[:, s]
    bx.set_yticks(np.arange(C))
    bx.set_yticklabels([f"cell {c}" for c in range(C)], fontsize=7)
    for c, tick in enumerate(bx.get_yticklabels()):
        tick.set_color(colours[c])
    bx.invert_yaxis()
    bx.set_xlim(0, 1)
    bx.set_xlabel("PRB share in force")
    bx.set_title("Slice shares per cell", fontsize=9)
    bx.legend(loc="lower right", fontsize=7, ncol=min(len(names), 4))
    fig.tight_layout()
    return _to_array(fig)


def _mec_frame(mec: Any, now: float) -> np.ndarray:
    fig, ax = plt.subplots(figsize=FIGSIZE_IN, dpi=DPI)
    draw_assignment(ax, mec, device_size=14, server_size=110)
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.set_title(f"Offloading decisions in force, t = {now:g} s", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    fig.tight_layout()
    return _to_array(fig)


def render_frame(emu: Any) -> np.ndarray:
    """An (H, W, 3) uint8 image of Emulation `emu` now (the first RAN subsystem, else the MEC one)."""
    by_kind = {type(s).__name__: s for s in emu.subsystems}
    now = float(emu.env.now)
    if "RanSubsystem" in by_kind:
        return _ran_frame(by_kind["RanSubsystem"], now)
    if "MecSubsystem" in by_kind:
        return _mec_frame(by_kind["MecSubsystem"], now)
    fig, ax = plt.subplots(figsize=FIGSIZE_IN, dpi=DPI)
    ax.text(0.5, 0.5, f"t = {now:g} s (no map for this world)", ha="center", va="center")
    ax.axis("off")
    return _to_array(fig)
