"""The MEC world's static geometry (devices, sites, servers, backhaul paths) and its per-epoch random draws."""
from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np

from emulator.mec.config import ChannelConfig, Distribution
from emulator.mec.physics import channel_gain
from topology.query import backhaul_path, mec_servers


def draw(dist: Distribution, rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` samples of a configured distribution."""
    if dist.kind == "fixed":
        return np.full(n, float(dist.value))
    if dist.kind == "uniform":
        return rng.uniform(dist.low, dist.high, size=n)
    if dist.kind == "loguniform":
        return np.exp(rng.uniform(math.log(dist.low), math.log(dist.high), size=n))
    return rng.exponential(dist.mean, size=n)


def place_devices(rng: np.random.Generator, n: int, area: tuple[float, float, float, float],
                  keep_away_xy: np.ndarray, min_distance_m: float, max_rounds: int = 1000) -> np.ndarray:
    """(n, 2) uniform positions in `area`, none closer than `min_distance_m` to any point of `keep_away_xy`.

    Positions too close are redrawn (the channel model is undefined there); the draws depend only
    on the stream, so a seed reproduces the placement.
    """
    xmin, xmax, ymin, ymax = area
    xy = np.column_stack([rng.uniform(xmin, xmax, n), rng.uniform(ymin, ymax, n)])
    for _ in range(max_rounds):
        bad = too_close(xy, keep_away_xy, min_distance_m)
        if not bad.any():
            return xy
        k = int(bad.sum())
        xy[bad] = np.column_stack([rng.uniform(xmin, xmax, k), rng.uniform(ymin, ymax, k)])
    raise ValueError(f"could not place {n} devices at least {min_distance_m:g} m from every site and server in the area")


def too_close(xy: np.ndarray, points_xy: np.ndarray, min_distance_m: float) -> np.ndarray:
    """(n,) bool: the position is closer than `min_distance_m` to some point."""
    if len(points_xy) == 0:
        return np.zeros(len(xy), dtype=bool)
    d = np.hypot(xy[:, None, 0] - points_xy[None, :, 0], xy[:, None, 1] - points_xy[None, :, 1])
    return (d < min_distance_m).any(axis=1)


@dataclass(frozen=True)
class Geometry:
    """Static positions and the backhaul each device crosses to reach each server."""

    device_xy: np.ndarray  # (N, 2) m
    site_xy: np.ndarray  # (S, 2) m
    server_xy: np.ndarray  # (M, 2) m
    server_site: np.ndarray  # (M,) hosting site index, −1 for a freely placed server
    d_site: np.ndarray  # (N, S) m
    d_server: np.ndarray  # (N, M) m
    access_site: np.ndarray  # (N,) serving site (nearest), or −1 in direct mode
    bh_latency_s: np.ndarray  # (N, M) Σ hop latencies from the device's access site to server j
    bh_capacity_bps: np.ndarray  # (N, M) bottleneck capacity (inf when no backhaul is crossed)
    bh_hops: np.ndarray  # (N, M) hops crossed

    @property
    def num_devices(self) -> int:
        return int(self.device_xy.shape[0])

    @property
    def num_servers(self) -> int:
        return int(self.server_xy.shape[0])


def _site_xy(G: nx.Graph) -> np.ndarray:
    sites = sorted((d for _, d in G.nodes(data=True) if d["kind"] == "site"), key=lambda d: d["index"])
    return np.array([d["pos"] for d in sites], dtype=float).reshape(-1, 2)


def build_geometry(G: nx.Graph, device_xy: np.ndarray, channel: ChannelConfig) -> Geometry:
    """Distances, access sites and per-(device, server) backhaul paths for a placed device set."""
    servers = mec_servers(G)
    site_xy = _site_xy(G)
    server_xy = np.array([G.nodes[s]["pos"] for s in servers], dtype=float).reshape(-1, 2)
    server_site = np.array([-1 if G.nodes[s].get("site") is None else int(G.nodes[s]["site"]) for s in servers],
                           dtype=np.int64)
    dx = device_xy[:, None, :] - site_xy[None, :, :]
    d_site = np.hypot(dx[..., 0], dx[..., 1])
    dx = device_xy[:, None, :] - server_xy[None, :, :]
    d_server = np.hypot(dx[..., 0], dx[..., 1])
    n, m = len(device_xy), len(servers)
    if channel.uplink == "direct":
        access = np.full(n, -1, dtype=np.int64)
        lat = np.zeros((n, m))
        cap = np.full((n, m), np.inf)
        hops = np.zeros((n, m), dtype=np.int64)
    else:
        access = np.argmin(d_site, axis=1).astype(np.int64)
        s_lat = np.zeros((len(site_xy), m))
        s_cap = np.zeros((len(site_xy), m))
        s_hops = np.zeros((len(site_xy), m), dtype=np.int64)
        for s in np.unique(access):
            for j, srv in enumerate(servers):
                path, s_lat[s, j], s_cap[s, j] = backhaul_path(G, f"site{s}", srv)
                s_hops[s, j] = len(path) - 1
        lat, cap, hops = s_lat[access], s_cap[access], s_hops[access]
    return Geometry(device_xy, site_xy, server_xy, server_site, d_site, d_server, access, lat, cap, hops)


@dataclass(frozen=True)
class Gains:
    """One epoch's channel power gains (linear)."""

    server: np.ndarray  # (N, M) device → server j's position (the paper's h_ij, the agents' state)
    link: np.ndarray  # (N, M) gain of the radio link a task for server j actually uses


def draw_gains(rng: np.random.Generator, geo: Geometry, channel: ChannelConfig) -> Gains:
    """Block-fading gains for one epoch: fading to every site, then to every server (fixed order)."""
    n, s, m = geo.num_devices, geo.site_xy.shape[0], geo.num_servers
    if channel.fading == "rayleigh":
        l_site = rng.exponential(1.0, size=(n, s))
        l_server = rng.exponential(1.0, size=(n, m))
    elif channel.fading == "nakagami":
        k = channel.nakagami_m
        l_site = rng.gamma(k, 1.0 / k, size=(n, s))
        l_server = rng.gamma(k, 1.0 / k, size=(n, m))
    else:
        l_site, l_server = np.ones((n, s)), np.ones((n, m))
    g_site = channel_gain(geo.d_site, l_site, channel.ref_gain, channel.ref_distance_m)
    g_server = channel_gain(geo.d_server, l_server, channel.ref_gain, channel.ref_distance_m)
    if channel.uplink == "direct":
        return Gains(g_server, g_server)
    # A server in a site's cabinet shares that site's radio link (one fading draw per link).
    at_site = geo.server_site >= 0
    g_server = g_server.copy()
    g_server[:, at_site] = g_site[:, geo.server_site[at_site]]
    link = np.repeat(g_site[np.arange(n), geo.access_site][:, None], m, axis=1)
    return Gains(g_server, link)
