"""Build the scenario's network graph (sites, cells, MEC servers, backhaul, neighbours) from its config.

Graph contract (other layers code against it):
- Nodes "site{i}", "cell{c}", "mec{j}", "cmec", "core" with attribute `kind` in
  {"site", "cell", "mec", "core_mec", "router"}, `pos` = (x_m, y_m) and `index` (within its kind).
  Cells are numbered site-major (cell c belongs to the c-th sector in site order; for 3-sector
  sites cell c = site c//3, sector c%3). A cell's `pos` is its antenna position (its site's);
  `centre` is the cell-centre point used for neighbour relations (see topology.neighbours).
- Edges carry `kind` in {"sector_of", "backhaul", "neighbour_of"}; backhaul edges carry
  `latency_s` and `capacity_bps`. Neighbour edges carry `listed_by` (the cell indices whose
  list holds the other end); each cell's ordered list is its node attribute `neighbours`.
- G.graph: layout, isd_m, ref_distance_m, wrap_around, area, wrap_offsets (only with wrap-around).
Explicit layouts: ref_distance_m is the median nearest-site distance (500 m, the 3GPP urban
macro ISD of TR 36.814, for a single site), and the derived area is the sites' bounding box
extended by ref_distance_m / 2 — the same half-ISD margin the hex layout gets.
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from topology.config import BackhaulLink, HexLayout, TopologyConfig
from topology.hexgrid import default_boresights_deg, full_rings, hex_site_xy, wrap_offsets
from topology.neighbours import cell_centres, neighbour_lists

# TR 36.814 Table A.2.1.1-2 case 1: 500 m ISD; reference distance for a lone explicit site.
SINGLE_SITE_REF_DISTANCE_M = 500.0


def _site_table(cfg: TopologyConfig):
    """Per-site positions, heights, names, sector counts and boresights."""
    lay = cfg.layout
    if isinstance(lay, HexLayout):
        xy = hex_site_xy(lay.num_sites, lay.isd_m)
        n = lay.num_sites
        heights = np.full(n, lay.height_m)
        names = [f"site{i}" for i in range(n)]
        sectors = [lay.sectors] * n
        boresights = [list(lay.boresights_deg)] * n
        return xy, heights, names, sectors, boresights
    xy = np.array([(s.x_m, s.y_m) for s in lay.sites], dtype=float)
    heights = np.array([s.height_m for s in lay.sites], dtype=float)
    names = [s.name or f"site{i}" for i, s in enumerate(lay.sites)]
    sectors = [s.sectors for s in lay.sites]
    boresights = [list(s.boresights_deg) if s.boresights_deg is not None else list(default_boresights_deg(s.sectors)) for s in lay.sites]
    return xy, heights, names, sectors, boresights


def _ref_distance(cfg: TopologyConfig, site_xy: np.ndarray) -> float:
    if isinstance(cfg.layout, HexLayout):
        return float(cfg.layout.isd_m)
    if len(site_xy) < 2:
        return SINGLE_SITE_REF_DISTANCE_M
    d = np.hypot(*(site_xy[:, None, :] - site_xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(axis=1)))


def _backhaul_attrs(link: BackhaulLink) -> dict:
    return {"kind": "backhaul", "latency_s": link.latency_ms * 1e-3, "capacity_bps": link.capacity_mbps * 1e6}


def build_topology(cfg: TopologyConfig) -> nx.Graph:
    """The scenario's network graph; see the module docstring for the node/edge/graph contract."""
    site_xy, heights, names, sectors, boresights = _site_table(cfg)
    n_site = len(site_xy)
    ref = _ref_distance(cfg, site_xy)
    hex_layout = isinstance(cfg.layout, HexLayout)
    wrap = hex_layout and cfg.layout.wrap_around
    offsets = wrap_offsets(n_site, cfg.layout.isd_m) if wrap else None
    if wrap and full_rings(n_site) is None:  # pragma: no cover - the config validator rejects it first
        raise ValueError(f"layout.wrap_around needs a full-ring layout, got num_sites={n_site}")

    if cfg.area is not None:
        area = (float(cfg.area.x_m[0]), float(cfg.area.x_m[1]), float(cfg.area.y_m[0]), float(cfg.area.y_m[1]))
    else:
        m = ref / 2.0
        area = (
            float(site_xy[:, 0].min() - m),
            float(site_xy[:, 0].max() + m),
            float(site_xy[:, 1].min() - m),
            float(site_xy[:, 1].max() + m),
        )

    G = nx.Graph(
        layout="hex" if hex_layout else "explicit",
        isd_m=float(cfg.layout.isd_m) if hex_layout else None,
        ref_distance_m=ref,
        wrap_around=bool(wrap),
        area=area,
    )
    if wrap:
        G.graph["wrap_offsets"] = offsets

    cell_site, cell_az, cell_omni = [], [], []
    for i in range(n_site):
        pos = (float(site_xy[i, 0]), float(site_xy[i, 1]))
        G.add_node(f"site{i}", kind="site", pos=pos, index=i, height_m=float(heights[i]), name=names[i], sectors=sectors[i])
        for s, az in enumerate(boresights[i]):
            cell_site.append(i)
            cell_az.append(float(az) % 360.0)
            cell_omni.append(sectors[i] == 1)
    cell_site_arr = np.array(cell_site, dtype=np.int64)
    cell_site_xy = site_xy[cell_site_arr]
    cell_az_arr = np.array(cell_az)
    omni = np.array(cell_omni, dtype=bool)
    centres = cell_centres(cell_site_xy, cell_az_arr, omni, ref)

    sector_counter = np.zeros(n_site, dtype=np.int64)
    for c, i in enumerate(cell_site):
        node = f"cell{c}"
        G.add_node(
            node,
            kind="cell",
            pos=(float(site_xy[i, 0]), float(site_xy[i, 1])),
            index=c,
            site=int(i),
            sector=int(sector_counter[i]),
            azimuth_deg=cell_az[c],
            omni=bool(cell_omni[c]),
            height_m=float(heights[i]),
            centre=(float(centres[c, 0]), float(centres[c, 1])),
        )
        sector_counter[i] += 1
        G.add_edge(node, f"site{i}", kind="sector_of")

    core_mec = cfg.mec.core
    if core_mec is not None:
        core_pos = tuple(map(float, site_xy[core_mec.site])) if core_mec.site is not None else (float(core_mec.x_m), float(core_mec.y_m))
    else:
        core_pos = (float(site_xy[0, 0]), float(site_xy[0, 1]))
    G.add_node("core", kind="router", pos=core_pos, index=0)
    for i in range(n_site):
        G.add_edge(f"site{i}", "core", **_backhaul_attrs(cfg.site_backhaul))

    servers = cfg.mec.servers
    if servers == "per_site":
        for i in range(n_site):
            G.add_node(f"mec{i}", kind="mec", pos=G.nodes[f"site{i}"]["pos"], index=i, site=i, attached_site=i, name=f"mec{i}")
            G.add_edge(f"mec{i}", f"site{i}", **_backhaul_attrs(cfg.mec.default_backhaul))
    elif isinstance(servers, list):
        for j, srv in enumerate(servers):
            if srv.site is not None:
                pos = (float(site_xy[srv.site, 0]), float(site_xy[srv.site, 1]))
                attached = srv.site
            else:
                pos = (float(srv.x_m), float(srv.y_m))
                # Backhaul is physical fibre: attach to the nearest site by plain (not wrapped) distance.
                attached = int(np.argmin(np.hypot(site_xy[:, 0] - pos[0], site_xy[:, 1] - pos[1])))
            G.add_node(f"mec{j}", kind="mec", pos=pos, index=j, site=srv.site, attached_site=attached, name=srv.name or f"mec{j}")
            G.add_edge(f"mec{j}", f"site{attached}", **_backhaul_attrs(srv.backhaul or cfg.mec.default_backhaul))
    if core_mec is not None:
        G.add_node("cmec", kind="core_mec", pos=core_pos, index=0, site=core_mec.site, name="cmec")
        G.add_edge("cmec", "core", **_backhaul_attrs(core_mec.backhaul))

    lists = neighbour_lists(cfg.neighbours, cell_site_xy, cell_az_arr, omni, centres, offsets)
    for c, nbrs in enumerate(lists):
        G.nodes[f"cell{c}"]["neighbours"] = nbrs
    for c, nbrs in enumerate(lists):
        for d in nbrs:
            a, b = f"cell{c}", f"cell{d}"
            if G.has_edge(a, b):
                listed = set(G.edges[a, b]["listed_by"]) | {c}
                G.edges[a, b]["listed_by"] = tuple(sorted(listed))
            else:
                G.add_edge(a, b, kind="neighbour_of", listed_by=(c,))
    return G
