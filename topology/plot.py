"""PNG map of a topology graph: sites, sector boresights, cells, MEC servers, backhaul, neighbours, area."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen before pyplot loads)
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from topology.query import area as graph_area  # noqa: E402


def plot_topology(G: nx.Graph, path: str | Path, neighbours: bool = True, cell_labels: bool | None = None) -> Path:
    """Draw the topology map to the PNG file `path` and return the path.

    Cell labels are drawn by default up to 200 cells (beyond that they only clutter the map).
    """
    path = Path(path)
    nodes = dict(G.nodes(data=True))
    sites = [d for d in nodes.values() if d["kind"] == "site"]
    cells = [d for d in nodes.values() if d["kind"] == "cell"]
    ref = float(G.graph.get("ref_distance_m") or G.graph.get("isd_m") or 500.0)
    if cell_labels is None:
        cell_labels = len(cells) <= 200
    xmin, xmax, ymin, ymax = graph_area(G)
    span = max(xmax - xmin, ymax - ymin)
    fig, ax = plt.subplots(figsize=(8, 8 * (ymax - ymin) / (xmax - xmin)) if xmax > xmin else (8, 8), dpi=120)

    ax.add_patch(Rectangle((xmin, ymin), xmax - xmin, ymax - ymin, fill=False, ls="--", lw=1.0, ec="0.5"))
    handles = [Line2D([], [], ls="--", color="0.5", label="area")]

    if neighbours:
        drawn = False
        for u, v, d in G.edges(data=True):
            if d["kind"] != "neighbour_of":
                continue
            a, b = np.array(nodes[u]["centre"]), np.array(nodes[v]["centre"])
            # With wrap-around a neighbour may be an image: draw only pairs closer than 2 ISD as plain lines.
            if np.hypot(*(a - b)) > 2.0 * ref and G.graph.get("wrap_around"):
                continue
            ax.plot([a[0], b[0]], [a[1], b[1]], color="tab:green", lw=0.4, alpha=0.5, zorder=1)
            drawn = True
        if drawn:
            handles.append(Line2D([], [], color="tab:green", lw=0.6, label="neighbour relation"))

    bh_drawn = False
    for u, v, d in G.edges(data=True):
        if d["kind"] != "backhaul":
            continue
        (x0, y0), (x1, y1) = nodes[u]["pos"], nodes[v]["pos"]
        ax.plot([x0, x1], [y0, y1], color="tab:gray", lw=0.8, alpha=0.6, zorder=2)
        bh_drawn = True
    if bh_drawn:
        handles.append(Line2D([], [], color="tab:gray", lw=0.8, label="backhaul"))

    sxy = np.array([d["pos"] for d in sites])
    ax.scatter(sxy[:, 0], sxy[:, 1], marker="^", s=60, c="tab:blue", zorder=4)
    handles.append(Line2D([], [], marker="^", ls="", color="tab:blue", label="site"))
    for d in sites:
        ax.annotate(str(d["index"]), d["pos"], xytext=(-4, -12), textcoords="offset points", fontsize=7, color="tab:blue")

    arrow = ref / 4.0
    for d in cells:
        x, y = d["pos"]
        if d["omni"]:
            ax.add_patch(plt.Circle((x, y), arrow * 0.5, fill=False, ec="tab:orange", lw=0.8, zorder=3))
        else:
            az = np.radians(d["azimuth_deg"])
            ax.annotate(
                "", xy=(x + arrow * np.cos(az), y + arrow * np.sin(az)), xytext=(x, y),
                arrowprops=dict(arrowstyle="-|>", color="tab:orange", lw=0.8, mutation_scale=7), zorder=3,
            )
        if cell_labels:
            cx, cy = d["centre"]
            if d["omni"]:
                # An omni cell's centre is its site: shift the label off the site marker.
                cx, cy = cx + 0.08 * ref, cy + 0.08 * ref
            ax.text(cx, cy, str(d["index"]), fontsize=6, ha="center", va="center", color="tab:red", zorder=5)
    handles.append(Line2D([], [], marker=r"$\rightarrow$", ls="", color="tab:orange", ms=10, label="sector boresight"))
    if cell_labels:
        handles.append(Line2D([], [], marker="$7$", ls="", color="tab:red", label="cell id (at cell centre)"))

    mecs = [d for d in nodes.values() if d["kind"] == "mec"]
    if mecs:
        mxy = np.array([d["pos"] for d in mecs])
        # Offset co-located servers slightly so the site marker stays visible.
        ax.scatter(mxy[:, 0] + 0.03 * ref, mxy[:, 1] + 0.03 * ref, marker="s", s=28, c="tab:purple", zorder=6)
        handles.append(Line2D([], [], marker="s", ls="", color="tab:purple", label="MEC server"))
    if "cmec" in nodes:
        x, y = nodes["cmec"]["pos"]
        ax.scatter([x - 0.04 * ref], [y + 0.04 * ref], marker="*", s=160, c="gold", ec="k", lw=0.6, zorder=7)
        handles.append(Line2D([], [], marker="*", ls="", color="gold", mec="k", ms=12, label="core MEC"))
    x, y = nodes["core"]["pos"]
    ax.scatter([x], [y], marker="D", s=30, facecolors="none", edgecolors="k", zorder=7)
    handles.append(Line2D([], [], marker="D", ls="", mfc="none", color="k", label="core router"))

    pad = 0.03 * span
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    title = f"{G.graph['layout']} layout: {len(sites)} sites, {len(cells)} cells"
    if G.graph.get("isd_m"):
        title += f", ISD {G.graph['isd_m']:.0f} m"
    if G.graph.get("wrap_around"):
        title += ", wrap-around"
    ax.set_title(title)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
