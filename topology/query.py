"""Read-only views of a topology graph: struct-of-arrays for the radio/RAN hot paths, paths, summaries."""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from topology.hexgrid import nearest_image_displacement

BACKHAUL_NODE_KINDS = ("site", "mec", "core_mec", "router")


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class CellArrays:
    """Sites and cells as read-only arrays, indexed by site / cell index."""

    site_xy: np.ndarray  # (n_site, 2) m
    site_height_m: np.ndarray  # (n_site,)
    cell_site: np.ndarray  # (n_cell,) int
    cell_azimuth_deg: np.ndarray  # (n_cell,) boresight, 0° = east, counter-clockwise
    cell_xy: np.ndarray  # (n_cell, 2) antenna position (= its site's)
    cell_centre_xy: np.ndarray  # (n_cell, 2) cell-centre point (see topology.neighbours)
    cell_omni: np.ndarray  # (n_cell,) bool: 1-sector site, isotropic horizontal pattern
    num_sites: int
    num_cells: int
    wrap_offsets: np.ndarray | None  # (7, 2) m, row 0 = (0, 0); None without wrap-around


def _nodes_of(G: nx.Graph, kind: str) -> list[dict]:
    nodes = [d for _, d in G.nodes(data=True) if d["kind"] == kind]
    nodes.sort(key=lambda d: d["index"])
    return nodes


def cell_arrays(G: nx.Graph) -> CellArrays:
    """Struct-of-arrays view of the graph's sites and cells."""
    sites = _nodes_of(G, "site")
    cells = _nodes_of(G, "cell")
    offsets = G.graph.get("wrap_offsets") if G.graph.get("wrap_around") else None
    return CellArrays(
        site_xy=_frozen(np.array([d["pos"] for d in sites], dtype=float).reshape(-1, 2)),
        site_height_m=_frozen(np.array([d["height_m"] for d in sites], dtype=float)),
        cell_site=_frozen(np.array([d["site"] for d in cells], dtype=np.int64)),
        cell_azimuth_deg=_frozen(np.array([d["azimuth_deg"] for d in cells], dtype=float)),
        cell_xy=_frozen(np.array([d["pos"] for d in cells], dtype=float).reshape(-1, 2)),
        cell_centre_xy=_frozen(np.array([d["centre"] for d in cells], dtype=float).reshape(-1, 2)),
        cell_omni=_frozen(np.array([d["omni"] for d in cells], dtype=bool)),
        num_sites=len(sites),
        num_cells=len(cells),
        wrap_offsets=None if offsets is None else _frozen(np.array(offsets, dtype=float)),
    )


def _arrays(src: nx.Graph | CellArrays) -> CellArrays:
    return src if isinstance(src, CellArrays) else cell_arrays(src)


def site_displacements(src: nx.Graph | CellArrays, points_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dx, dy), each (n_points, n_site): vector from each site (its nearest wrap-around image) to each point.

    The angle arctan2(dy, dx) is the direction of the point as seen from that site image, which is
    what the antenna pattern needs.
    """
    ca = _arrays(src)
    return nearest_image_displacement(points_xy, ca.site_xy, ca.wrap_offsets)


def site_distances(src: nx.Graph | CellArrays, points_xy: np.ndarray) -> np.ndarray:
    """(n_points, n_site) horizontal distances in metres (minimum over wrap-around images)."""
    dx, dy = site_displacements(src, points_xy)
    return np.hypot(dx, dy)


def to_central_image(src: nx.Graph | CellArrays, points_xy: np.ndarray) -> np.ndarray:
    """(n_points, 2) each point moved to its wrap-around image nearest to a site (identity without wrap-around).

    Mobility uses it to keep UEs inside the central cluster: a point and its image are
    indistinguishable to the radio, so the image that lies in the cluster is the canonical one.
    """
    ca = _arrays(src)
    p = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    if ca.wrap_offsets is None:
        return p.copy()
    # First reduce modulo the super-lattice spanned by two image shifts (exact for any distance),
    # then pick among the 7 candidate images p - o_k the one whose nearest site is closest.
    basis = ca.wrap_offsets[1:3]
    coef = np.linalg.solve(basis.T, p.T).T
    p = p - np.round(coef) @ basis
    best = np.full(len(p), np.inf)
    out = p.copy()
    for o in ca.wrap_offsets:
        cand = p - o
        d2 = ((cand[:, None, :] - ca.site_xy[None, :, :]) ** 2).sum(axis=2).min(axis=1)
        closer = d2 < best - 1e-9
        best = np.where(closer, d2, best)
        out[closer] = cand[closer]
    return out


def _cell_index(cell: int | str) -> int:
    if isinstance(cell, str):
        if not cell.startswith("cell"):
            raise ValueError(f"not a cell node id: {cell!r}")
        return int(cell[4:])
    return int(cell)


def neighbours(G: nx.Graph, cell: int | str) -> list[int]:
    """Neighbour cell indices of `cell` (index or "cell{c}"), nearest/strongest first."""
    node = f"cell{_cell_index(cell)}"
    if node not in G:
        raise ValueError(f"no cell {node} in the topology ({len(_nodes_of(G, 'cell'))} cells)")
    return list(G.nodes[node]["neighbours"])


def neighbour_matrix(G: nx.Graph) -> np.ndarray:
    """(n_cell, n_cell) bool, M[i, j] = j is in cell i's neighbour list."""
    cells = _nodes_of(G, "cell")
    m = np.zeros((len(cells), len(cells)), dtype=bool)
    for d in cells:
        m[d["index"], d["neighbours"]] = True
    return m


def mec_servers(G: nx.Graph, include_core: bool = False) -> list[str]:
    """Node ids of the edge MEC servers in index order, followed by "cmec" when asked and present."""
    ids = [f"mec{d['index']}" for d in _nodes_of(G, "mec")]
    if include_core and "cmec" in G:
        ids.append("cmec")
    return ids


def _backhaul_weight(u, v, d):
    # None hides the edge from networkx's shortest-path search: only backhaul links carry traffic.
    return d["latency_s"] if d["kind"] == "backhaul" else None


def backhaul_path(G: nx.Graph, a: str, b: str) -> tuple[list[str], float, float]:
    """(nodes, total latency_s, bottleneck capacity_bps) of the lowest-latency backhaul path a → b.

    A cell endpoint stands for its site (the radio hop is not backhaul); the cell node then
    heads (or ends) the returned node list and adds no latency.
    """
    for x in (a, b):
        if x not in G:
            raise ValueError(f"no node {x!r} in the topology")
    src = f"site{G.nodes[a]['site']}" if G.nodes[a]["kind"] == "cell" else a
    dst = f"site{G.nodes[b]['site']}" if G.nodes[b]["kind"] == "cell" else b
    try:
        path = nx.shortest_path(G, src, dst, weight=_backhaul_weight)
    except nx.NetworkXNoPath as exc:
        raise ValueError(f"no backhaul path between {a!r} and {b!r}") from exc
    hops = list(zip(path[:-1], path[1:]))
    latency = float(sum(G.edges[u, v]["latency_s"] for u, v in hops))
    capacity = float(min((G.edges[u, v]["capacity_bps"] for u, v in hops), default=np.inf))
    if src != a:
        path = [a] + path
    if dst != b:
        path = path + [b]
    return path, latency, capacity


def site_server_paths(G: nx.Graph, include_core: bool = True) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(server ids, latency_s (n_site, n_server), bottleneck capacity_bps (n_site, n_server)) over backhaul.

    Precomputed once per run so offloading decisions look paths up by index instead of searching.
    """
    servers = mec_servers(G, include_core=include_core)
    n_site = len(_nodes_of(G, "site"))
    lat = np.zeros((n_site, len(servers)))
    cap = np.zeros((n_site, len(servers)))
    for j, srv in enumerate(servers):
        for i in range(n_site):
            _, lat[i, j], cap[i, j] = backhaul_path(G, f"site{i}", srv)
    return servers, lat, cap


def area(G: nx.Graph) -> tuple[float, float, float, float]:
    """(xmin, xmax, ymin, ymax) of the region UEs / devices live in, metres."""
    return tuple(G.graph["area"])


def summary(G: nx.Graph) -> dict:
    """Counts of each node kind, layout parameters, area and neighbour statistics."""
    kinds = [d["kind"] for _, d in G.nodes(data=True)]
    cells = _nodes_of(G, "cell")
    n_nbr = np.array([len(d["neighbours"]) for d in cells]) if cells else np.zeros(0)
    m = neighbour_matrix(G)
    edges = [d["kind"] for _, _, d in G.edges(data=True)]
    return {
        "layout": G.graph["layout"],
        "isd_m": G.graph["isd_m"],
        "wrap_around": G.graph["wrap_around"],
        "area": area(G),
        "sites": kinds.count("site"),
        "cells": kinds.count("cell"),
        "mec_servers": kinds.count("mec"),
        "core_mec": kinds.count("core_mec"),
        "routers": kinds.count("router"),
        "backhaul_links": edges.count("backhaul"),
        "neighbour_edges": edges.count("neighbour_of"),
        "mean_neighbours_per_cell": float(n_nbr.mean()) if n_nbr.size else 0.0,
        "min_neighbours_per_cell": int(n_nbr.min()) if n_nbr.size else 0,
        "max_neighbours_per_cell": int(n_nbr.max()) if n_nbr.size else 0,
        "neighbours_symmetric": bool((m == m.T).all()),
    }
