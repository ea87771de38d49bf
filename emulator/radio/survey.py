"""Radio survey of a deployment: UEs dropped uniformly, coupling loss / geometry / SINR CDFs and a coverage map.

`survey()` returns the arrays; `write_survey()` writes CDF PNGs, a CSV of percentiles 1..99 and a
best-server + SINR map (`ranemu radio FILE` calls both). Sign convention for coupling loss:
as in the 3GPP calibration campaigns, it is the received over the transmitted power per PRB
including antenna gains, path loss and shadowing, in dB — a negative number (e.g. −110 dB).
"""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from emulator.radio.model import RadioModel, ValidityCounts  # noqa: E402
from emulator.streams import RandomStreams  # noqa: E402
from topology.build import build_topology  # noqa: E402
from topology.query import site_distances  # noqa: E402

# TR 36.814 Table A.2.1.1-2 (UMa): UEs are dropped at least 35 m from a BS.
DEFAULT_MIN_DISTANCE_M = 35.0
MAP_POINTS_PER_AXIS = 220
PERCENTILES = np.arange(1, 100)


@dataclass
class SurveyResult:
    """Per-UE survey arrays (full-buffer interference) and what produced them."""

    scenario_name: str
    pathloss: str
    ue_xy: np.ndarray  # (n, 2) m
    serving: np.ndarray  # (n,) serving (strongest) cell
    coupling_loss_db: np.ndarray  # (n,) to the serving cell, negative (3GPP calibration convention)
    geometry_sir_db: np.ndarray  # (n,) full-buffer SIR without noise
    sinr_db: np.ndarray  # (n,) full-buffer SINR with noise
    min_distance_m: float
    seed: int
    wall_s: float  # model construction + drop + evaluation
    validity: ValidityCounts
    model: RadioModel = field(repr=False)

    def percentiles(self, q=(5, 50, 95)) -> dict[str, np.ndarray]:
        return {k: _finite_percentiles(getattr(self, k), q) for k in ("coupling_loss_db", "geometry_sir_db", "sinr_db")}


def _in_cluster(rm: RadioModel, xy: np.ndarray) -> np.ndarray:
    """Points whose nearest site, over all wrap-around images, is an original site (the hexagonal cluster)."""
    if rm.cells.wrap_offsets is None:
        xmin, xmax, ymin, ymax = rm.area
        return (xy[:, 0] >= xmin) & (xy[:, 0] <= xmax) & (xy[:, 1] >= ymin) & (xy[:, 1] <= ymax)
    direct = np.hypot(xy[:, None, 0] - rm.cells.site_xy[None, :, 0], xy[:, None, 1] - rm.cells.site_xy[None, :, 1])
    return direct.min(axis=1) <= site_distances(rm.cells, xy).min(axis=1) + 1e-6


def drop_ues(rm: RadioModel, n: int, min_distance_m: float, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) positions uniform over the area (wrap-around: the cluster's hexagons), ≥ min_distance_m from every site."""
    if n < 1:
        raise ValueError(f"need at least one UE, got {n}")
    bounds = rm._field_bounds() if rm.cells.wrap_offsets is not None else rm.area
    xmin, xmax, ymin, ymax = bounds
    out = np.empty((0, 2))
    for _ in range(1000):
        cand = np.column_stack([rng.uniform(xmin, xmax, 2 * n), rng.uniform(ymin, ymax, 2 * n)])
        ok = _in_cluster(rm, cand) & (site_distances(rm.cells, cand).min(axis=1) >= min_distance_m)
        out = np.vstack([out, cand[ok]])
        if len(out) >= n:
            return out[:n]
    raise ValueError(f"could not place {n} UEs at least {min_distance_m} m from every site inside the area")


def survey(scenario, n_ues: int = 10000, min_distance_m: float = DEFAULT_MIN_DISTANCE_M, seed: int | None = None) -> SurveyResult:
    """Drop n_ues UEs over the scenario's area and evaluate their links with every cell transmitting."""
    t0 = time.perf_counter()
    seed = scenario.seed if seed is None else int(seed)
    streams = RandomStreams(seed)
    graph = build_topology(scenario.topology)
    rm = RadioModel(scenario.radio, graph, streams, scenario.clock.tti_ms * 1e-3)
    xy = drop_ues(rm, n_ues, min_distance_m, streams.get("radio.survey"))
    rm.update(xy)
    s = rm.serving
    coupling = 10.0 * np.log10(rm.rx_w[np.arange(len(s)), s] / rm.tx_w_per_prb)
    with np.errstate(divide="ignore"):
        geometry = 10.0 * np.log10(rm.geometry())
        sinr = 10.0 * np.log10(rm.sinr())
    return SurveyResult(scenario.name, scenario.radio.pathloss, xy, s.copy(), coupling, geometry, sinr,
                        float(min_distance_m), seed, time.perf_counter() - t0, rm.validity, rm)


# --- outputs ----------------------------------------------------------------------------------

_LABELS = {
    "coupling_loss_db": "Coupling loss to serving cell [dB]",
    "geometry_sir_db": "Geometry SIR (full buffer, no noise) [dB]",
    "sinr_db": "SINR (full buffer) [dB]",
}


def _finite_percentiles(values: np.ndarray, q) -> np.ndarray:
    # A layout with a single omni cell has no interferer: its SIR is +inf for every UE.
    v = values[np.isfinite(values)]
    return np.percentile(v, q) if v.size else np.full(np.shape(q), np.nan)


def _plot_cdf(values: np.ndarray, label: str, title: str, path: Path) -> None:
    v = np.sort(values[np.isfinite(values)])
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    if v.size:
        ax.plot(v, np.arange(1, len(v) + 1) / len(v), lw=1.8)
        for q in (5, 50, 95):
            x = np.percentile(v, q)
            ax.axvline(x, color="0.6", lw=0.8, ls="--")
            ax.annotate(f"{q}%: {x:.1f}", (x, q / 100.0), xytext=(4, -2), textcoords="offset points", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no finite values (no interfering cell)", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(label)
    ax.set_ylabel("CDF")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _cell_colours(best: np.ndarray, n_cell: int) -> np.ndarray:
    """Colour index per cell such that cells adjacent in the best-server map differ (greedy graph colouring)."""
    g = nx.Graph()
    g.add_nodes_from(range(n_cell))
    for a, b in ((best[:, :-1], best[:, 1:]), (best[:-1, :], best[1:, :])):
        ok = (a >= 0) & (b >= 0) & (a != b)
        g.add_edges_from(set(zip(a[ok].tolist(), b[ok].tolist())))
    colours = nx.greedy_color(g, strategy="largest_first")
    return np.array([colours[c] for c in range(n_cell)])


def coverage_grid(rm: RadioModel, points_per_axis: int = MAP_POINTS_PER_AXIS):
    """(xs, ys, best cell (ny, nx) int, SINR dB (ny, nx)) on a grid over the area; −1 / NaN outside it."""
    xmin, xmax, ymin, ymax = rm._field_bounds() if rm.cells.wrap_offsets is not None else rm.area
    xs = np.linspace(xmin, xmax, points_per_axis)
    ys = np.linspace(ymin, ymax, points_per_axis)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    best = np.full(len(pts), -1, dtype=np.int64)
    sinr_db = np.full(len(pts), np.nan)
    inside = np.flatnonzero(_in_cluster(rm, pts))
    for chunk in np.array_split(inside, max(1, len(inside) // 20000)):
        rx = rm.received_power_w(pts[chunk], record=False)  # map points may sit on a site; UEs never do
        b = np.argmax(rx, axis=1)
        s = rx[np.arange(len(b)), b]
        best[chunk] = b
        sinr_db[chunk] = 10.0 * np.log10(s / (rx.sum(axis=1) - s + rm.noise_w))
    return xs, ys, best.reshape(gx.shape), sinr_db.reshape(gx.shape)


def _draw_sites(ax, rm: RadioModel, extent) -> None:
    ca = rm.cells
    ax.plot(ca.site_xy[:, 0], ca.site_xy[:, 1], "k^", ms=5)
    reach = 0.04 * max(extent[1] - extent[0], extent[3] - extent[2])
    for c in range(ca.num_cells):
        if ca.cell_omni[c] or rm.cfg.antenna.pattern == "omni":
            continue
        x, y = ca.cell_xy[c]
        a = np.radians(ca.cell_azimuth_deg[c])
        ax.plot([x, x + reach * np.cos(a)], [y, y + reach * np.sin(a)], "k-", lw=0.8)


def _plot_map(result: SurveyResult, path: Path) -> None:
    rm = result.model
    xs, ys, best, sinr_db = coverage_grid(rm)
    extent = (xs[0], xs[-1], ys[0], ys[-1])
    colour_of_cell = _cell_colours(best, rm.num_cells)
    colour = np.where(best >= 0, colour_of_cell[np.maximum(best, 0)], -1).astype(float)
    colour[best < 0] = np.nan
    n_colours = int(colour_of_cell.max()) + 1
    base = plt.get_cmap("tab20").colors
    # Shadowing fragments the serving areas, so the colouring may need more than 20 colours; reuse them then.
    palette = ListedColormap([base[i % len(base)] for i in range(n_colours)])

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13.5, 6.0))
    ax1.imshow(colour, origin="lower", extent=extent, cmap=palette, interpolation="nearest",
               vmin=-0.5, vmax=n_colours - 0.5)
    _draw_sites(ax1, rm, extent)
    for c in range(rm.num_cells):
        mask = best == c
        if mask.sum() > 30:
            yi, xi = np.nonzero(mask)
            ax1.text(xs[int(np.median(xi))], ys[int(np.median(yi))], str(c), fontsize=6, ha="center", va="center")
    ax1.set_title("Best server (cell index)", fontsize=9)
    # The colours come from a graph colouring (neighbouring serving areas differ), not one per cell:
    # the key says so, and the numbers name the cells.
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ax1.legend(handles=[Patch(color=base[0], label="serving area of the cell numbered in it\n"
                                                   "(colours only tell neighbours apart)"),
                        Line2D([], [], marker="^", ls="", color="k", ms=5, label="site"),
                        Line2D([], [], color="k", lw=0.8, label="sector boresight"),
                        Patch(facecolor="white", edgecolor="0.6", label="outside the area")],
               loc="upper left", bbox_to_anchor=(0.0, -0.08), fontsize=7, ncol=2, frameon=False)

    im = ax2.imshow(sinr_db, origin="lower", extent=extent, cmap="viridis", interpolation="nearest",
                    vmin=max(-10.0, np.nanpercentile(sinr_db, 0.5)), vmax=min(40.0, np.nanpercentile(sinr_db, 99.5)))
    cs = ax2.contour(xs, ys, sinr_db, levels=[0.0, 10.0], colors=["r", "w"], linewidths=0.6)
    ax2.clabel(cs, fmt="%g dB", fontsize=6)
    _draw_sites(ax2, rm, extent)
    fig.colorbar(im, ax=ax2, label="SINR, full buffer [dB]", shrink=0.85)
    ax2.set_title("Downlink SINR (all cells transmitting), contours 0 dB (red) / 10 dB (white)", fontsize=9)
    for ax in (ax1, ax2):
        ax.set_xlabel("x [m]")
        ax.set_ylabel("y [m]")
        ax.set_aspect("equal")
    fig.suptitle(f"{result.scenario_name}: {result.pathloss}, {rm.cfg.carrier_ghz:g} GHz, "
                 f"{rm.cfg.tx_power_dbm:g} dBm, {rm.cells.num_cells} cells"
                 + (", wrap-around" if rm.cells.wrap_offsets is not None else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_survey(result: SurveyResult, out_dir) -> list[Path]:
    """Write the survey's CDF PNGs, percentile CSV and coverage map into out_dir; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    title = f"{result.scenario_name}: {result.pathloss}, {len(result.sinr_db)} UEs, ≥ {result.min_distance_m:g} m from sites"
    for key, label in _LABELS.items():
        p = out / f"{key.removesuffix('_db')}_cdf.png"
        _plot_cdf(getattr(result, key), label, title, p)
        paths.append(p)
    csv_path = out / "survey_percentiles.csv"
    cols = {k: _finite_percentiles(getattr(result, k), PERCENTILES) for k in _LABELS}
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["percentile", *cols])
        for i, q in enumerate(PERCENTILES):
            w.writerow([int(q), *(f"{cols[k][i]:.3f}" for k in cols)])
    paths.append(csv_path)
    map_path = out / "coverage_map.png"
    _plot_map(result, map_path)
    paths.append(map_path)
    return paths
