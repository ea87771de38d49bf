"""RadioModel: per-UE received power from every cell, serving cell and SINR for a scenario's deployment.

What the RAN codes against:

    rm = RadioModel(cfg, graph, streams, tti_s)
    rm.update(ue_xy, dt_s)      # positions moved: gains recomputed, handover state advanced by dt_s
    rm.rx_w                     # (n_ue, n_cell) received power per PRB [W]
    rm.serving                  # (n_ue,) int64 serving cell
    rm.noise_w                  # thermal noise per PRB [W]
    rm.sinr(activity)           # (n_ue,) linear SINR on the serving cell

Per link: rx = P_tx/PRB · G_ant(cell → UE) / (PL · SF · L_penetration). Path loss, LOS state and
shadowing belong to the site (its sectors share them); the antenna gain to the cell.
Under wrap-around each site is seen through its nearest image, for distance and direction.
Random maps come from the streams "radio.shadowing" and "radio.los", drawn once at construction.
With radio.population enabled (indoor UEs, floor heights; emulator.radio.population), `update` draws
each UE's population from "radio.population" the first time it sees that many UEs, and the link
budget uses per-UE heights, indoor distances and O2I losses; otherwise every UE is outdoors at
radio.ue_height_m and nothing is drawn (except for UMa UEs fixed above 13 m, whose links need h_E draws).

`update` runs the compiled link budget (emulator.radio.linkbudget); `evaluate` is the readable
numpy reference of the same terms, kept for per-site diagnostics and as the kernel's test oracle.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import networkx as nx
import numpy as np

from emulator.radio.antenna import AntennaModel
from emulator.radio.config import RadioConfig
from emulator.radio.handover import handover_kernel
from emulator.radio.link import LinkMapping, bits_per_prb_kernel
from emulator.radio.linkbudget import C_ABOVE_MAX, C_BELOW_MIN, C_NLOS_EXTENDED, LinkBudget
from emulator.radio.pathloss import (D_MIN_M, get_model, link_pathloss_db, uma_effective_height_m,
                                     uma_height_los_factor)
from emulator.radio.population import Population, draw_population
from emulator.radio.shadowing import SiteFields, make_grid
from emulator.radio.sinr import sinr_kernel, thermal_noise_w
from topology.query import cell_arrays, site_displacements

_WARNED_MODELS: set[str] = set()
log = logging.getLogger("ranemu.radio")  # under "ranemu": the run log records it (emulator.emulation)

LOS_GRID_POINTS_PER_DECORRELATION = 8.0


@dataclass
class LinkSnapshot:
    """Everything evaluated for a set of positions (no handover state): per-site and per-cell link terms."""

    distance_m: np.ndarray  # (n, n_site) 2-D distance to the nearest site image
    los: np.ndarray  # (n, n_site) bool LOS state (P_LOS > 0.5 stands in for the state in expected mode)
    pathloss_db: np.ndarray  # (n, n_site)
    shadowing_db: np.ndarray  # (n, n_site), zero when shadowing is off
    antenna_gain_db: np.ndarray  # (n, n_cell)
    rx_w: np.ndarray  # (n, n_cell) received power per PRB [W]


@dataclass
class ValidityCounts:
    """Links whose distance fell outside the path-loss model's range on the last update."""

    below_min: int = 0  # clamped up to radio.min_distance_m
    above_max: int = 0  # clamped down to 5 km
    nlos_extended: int = 0  # NLOS links between the clamp and the model's nominal NLOS minimum (WINNER+: 50 m)
    links: int = 0


class RadioModel:
    """Link budget of every UE towards every cell, recomputed when UEs move; serving cell with handover."""

    def __init__(self, cfg: RadioConfig, graph: nx.Graph, streams, tti_s: float):
        if tti_s <= 0:
            raise ValueError(f"tti_s must be positive, got {tti_s}")
        self.cfg = cfg
        self.tti_s = float(tti_s)
        self.cells = cell_arrays(graph)
        self.area = tuple(float(v) for v in graph.graph["area"])
        self.model = get_model(cfg.pathloss)
        n_site = self.cells.num_sites
        self.h_bs_m = (np.full(n_site, cfg.bs_height_m) if cfg.bs_height_m is not None
                       else np.asarray(self.cells.site_height_m, dtype=float).copy())
        self.h_ue_m = float(cfg.ue_height_m)
        self.d_max_m = self.model.d_max_m
        # Per-UE population (None until update() sees UEs, and always None when radio.population is off).
        self.population: Population | None = None
        # A fixed UMa height above 13 m needs per-link draws too (h_E, TR 38.901 Table 7.4.1-1 note 1).
        needs = cfg.population.enabled or (self.model.height_dependent_los and self.h_ue_m > 13.0)
        self._population_rng = streams.get("radio.population") if needs else None
        self.tx_w_per_prb = 10.0 ** ((cfg.tx_power_dbm - 30.0) / 10.0) / cfg.num_prbs
        self.noise_w = thermal_noise_w(cfg.prb_bandwidth_hz, cfg.noise_figure_db)
        self.antenna = AntennaModel(cfg.antenna)
        self.link = LinkMapping.from_config(cfg.link)
        self.hysteresis_linear = 10.0 ** (cfg.handover.hysteresis_db / 10.0)

        bounds = self._field_bounds()
        sh = cfg.shadowing
        self.decorrelation_m = sh.decorrelation_m if sh.decorrelation_m is not None else self.model.decorrelation_nlos_m
        self.shadowing: SiteFields | None = None
        self.los_field: SiteFields | None = None
        if sh.enabled:
            grid = make_grid(bounds, self.decorrelation_m, sh.grid_points_per_decorrelation, sh.max_grid_points)
            self.shadowing = SiteFields(grid, self.decorrelation_m, n_site, sh.inter_site_correlation,
                                        streams.get("radio.shadowing"))
        if cfg.los == "draw":
            # The LOS map is only thresholded, so its fine structure matters less: a coarser grid halves memory.
            grid = make_grid(bounds, cfg.los_decorrelation_m, LOS_GRID_POINTS_PER_DECORRELATION, sh.max_grid_points)
            # LOS states towards different sites are independent (ρ = 0): buildings block each path separately.
            self.los_field = SiteFields(grid, cfg.los_decorrelation_m, n_site, 0.0, streams.get("radio.los"))

        self._links = LinkBudget(self)

        n_cell = self.cells.num_cells
        self.rx_w = np.zeros((0, n_cell))
        self.serving = np.zeros(0, dtype=np.int64)
        self._candidate = np.zeros(0, dtype=np.int64)
        self._timer_s = np.zeros(0)
        self.handovers = 0
        self.validity = ValidityCounts()
        self._warned_range = False

    # --- geometry ------------------------------------------------------------------------------

    def _field_bounds(self) -> tuple[float, float, float, float]:
        # The maps must cover every position a UE can occupy: the area and, under wrap-around,
        # the hexagonal cluster, whose corners reach ISD/√3 beyond the outer sites.
        xmin, xmax, ymin, ymax = self.area
        xy = self.cells.site_xy
        if self.cells.wrap_offsets is not None:
            reach = float(np.linalg.norm(self.cells.wrap_offsets[1])) / math.sqrt(3.0 * self.cells.num_sites)
            xmin = min(xmin, xy[:, 0].min() - reach)
            xmax = max(xmax, xy[:, 0].max() + reach)
            ymin = min(ymin, xy[:, 1].min() - reach)
            ymax = max(ymax, xy[:, 1].max() + reach)
        return xmin, xmax, ymin, ymax

    @property
    def num_cells(self) -> int:
        return self.cells.num_cells

    @property
    def num_ues(self) -> int:
        return self.rx_w.shape[0]

    def draw_population(self, n: int) -> Population:
        """A fresh population of n UEs from the "radio.population" stream (radio.population must be enabled)."""
        if self._population_rng is None:
            raise ValueError("radio.population is not enabled (indoor_fraction = 0 and heights = fixed)")
        return draw_population(self.cfg.population, n, self.cfg.carrier_ghz, self.h_ue_m,
                               self.model.o2i_indoor_max_m, self._population_rng,
                               self.cells.num_sites if self.model.height_dependent_los else 0)

    def received_power_w(self, ue_xy: np.ndarray, record: bool = True, population: Population | None = None) -> np.ndarray:
        """(n, n_cell) received power per PRB [W] at positions `ue_xy` (n, 2), compiled; records `validity` unless told not.

        `population` gives the n UEs' heights / indoor state (None: outdoor at radio.ue_height_m).
        Equals `evaluate(ue_xy, population=...).rx_w` to rounding (tests/emulator/radio/test_linkbudget.py).
        """
        xy = np.ascontiguousarray(ue_xy, dtype=np.float64).reshape(-1, 2)
        rx_w, counts = self._links(xy, population)
        if record:
            self._record_validity(ValidityCounts(int(counts[C_BELOW_MIN]), int(counts[C_ABOVE_MAX]),
                                                 int(counts[C_NLOS_EXTENDED]), rx_w.shape[0] * self.cells.num_sites))
        return rx_w

    def evaluate(self, ue_xy: np.ndarray, record: bool = True, population: Population | None = None) -> LinkSnapshot:
        """Every link term at positions `ue_xy` (n, 2), by numpy (the reference); changes only `validity` (unless record=False).

        `population`: as in received_power_w (per-UE heights, outdoor distance for P_LOS, O2I loss).
        """
        cfg = self.cfg
        xy = np.asarray(ue_xy, dtype=np.float64).reshape(-1, 2)
        if not np.isfinite(xy).all():
            raise ValueError("UE positions must be finite")
        dx, dy = site_displacements(self.cells, xy)
        d = np.sqrt(dx * dx + dy * dy)  # the compiled path evaluates this same expression (cheaper than hypot)
        h_bs = self.h_bs_m[None, :]
        d_max = self.d_max_m
        dc = np.clip(d, cfg.min_distance_m, d_max)
        model_kw = {}
        if population is None:
            h_ue = self.h_ue_m
            extra_loss_db = cfg.penetration_loss_db
            p_los = self.model.p_los(dc)
        else:
            if population.size != xy.shape[0]:
                raise ValueError(f"population of {population.size} UEs for {xy.shape[0]} positions")
            h_ue = population.h_ue_m[:, None]
            extra_loss_db = cfg.penetration_loss_db + population.o2i_db[:, None]
            # TR 38.901 7.4.2: an indoor UE's LOS probability is taken on the outdoor distance d_2D − d_2D-in.
            d_out = dc - population.d_in_m[:, None]
            p_los = self.model.p_los(d_out)
            if self.model.height_dependent_los:
                p_los = p_los * uma_height_los_factor(np.clip(d_out, D_MIN_M, d_max), h_ue)
                if population.h_e_u is not None:
                    model_kw["h_e_m"] = uma_effective_height_m(dc, h_ue, population.h_e_u, population.h_e_alt_m)
        if self.los_field is not None:
            los = self.los_field.sample_uniform(xy) < p_los
            pl_db, sigma_db = link_pathloss_db(self.model, d, cfg.carrier_ghz, h_bs, h_ue, los,
                                               cfg.min_distance_m, d_max, **model_kw)
        else:
            los = p_los > 0.5
            pl_db, sigma_db = link_pathloss_db(self.model, d, cfg.carrier_ghz, h_bs, h_ue, None,
                                               cfg.min_distance_m, d_max, p_los=p_los, **model_kw)
        if self.shadowing is not None:
            if cfg.shadowing.sigma_db is not None:
                sigma_db = np.full_like(pl_db, cfg.shadowing.sigma_db)
            sf_db = sigma_db * self.shadowing.sample(xy)
        else:
            sf_db = np.zeros_like(pl_db)

        cs = self.cells.cell_site
        azimuth = np.degrees(np.arctan2(dy, dx))[:, cs]
        elevation = np.degrees(np.arctan2(h_bs - h_ue, np.maximum(d, cfg.min_distance_m)))[:, cs]
        gain_db = self.antenna.gain_db(azimuth - self.cells.cell_azimuth_deg[None, :], elevation,
                                       self.cells.cell_omni[None, :])
        loss_db = pl_db + sf_db + extra_loss_db
        rx_w = self.tx_w_per_prb * 10.0 ** ((gain_db - loss_db[:, cs]) / 10.0)
        if record:
            self._count_validity(d, los)
        return LinkSnapshot(d, los, pl_db, sf_db, gain_db, rx_w)

    def _count_validity(self, d: np.ndarray, los: np.ndarray) -> None:
        nominal = self.model.nlos_nominal_min_m
        below = d < self.cfg.min_distance_m
        self._record_validity(ValidityCounts(
            below_min=int(np.count_nonzero(below)),
            above_max=int(np.count_nonzero(d > self.d_max_m)),
            nlos_extended=int(np.count_nonzero(~los & ~below & (d < nominal))),
            links=int(d.size),
        ))

    def _record_validity(self, v: ValidityCounts) -> None:
        self.validity = v
        if (v.below_min or v.above_max) and not self._warned_range:
            self._warned_range = True
            # Once per process and model: envs rebuild the world at every reset, and the same
            # warning each episode would drown a training log. The counts stay in `validity`.
            if self.model.name in _WARNED_MODELS:
                return
            _WARNED_MODELS.add(self.model.name)
            log.warning("%s: %d link(s) closer than %.0f m and %d beyond %.0f m were clamped to the model's range",
                        self.model.name, v.below_min, self.cfg.min_distance_m, v.above_max, self.d_max_m)

    # --- state -----------------------------------------------------------------------------------

    def update(self, ue_xy: np.ndarray, dt_s: float | None = None) -> None:
        """Recompute every link for new positions; dt_s advances handover (None or a new UE count: attach to strongest).

        With radio.population enabled, a UE count not seen before draws a new population for the UEs.
        """
        if self._population_rng is not None:
            n_new = int(np.asarray(ue_xy).reshape(-1, 2).shape[0])
            if self.population is None or self.population.size != n_new:
                self.population = self.draw_population(n_new)
        self.rx_w = self.received_power_w(ue_xy, population=self.population)
        n = self.rx_w.shape[0]
        if dt_s is None or self.serving.shape[0] != n:
            self.serving = np.full(n, -1, dtype=np.int64)
            self._candidate = np.full(n, -1, dtype=np.int64)
            self._timer_s = np.zeros(n)
            dt = 0.0
        else:
            if dt_s < 0:
                raise ValueError(f"dt_s must be ≥ 0, got {dt_s}")
            dt = float(dt_s)
        self.handovers += handover_kernel(self.rx_w, self.serving, self._candidate, self._timer_s,
                                          self.hysteresis_linear, self.cfg.handover.ttt_s, dt)

    def attach(self, ue_index: np.ndarray) -> None:
        """Attach the given UEs to their strongest cell now (e.g. a UE re-dropped elsewhere), clearing TTT state."""
        idx = np.asarray(ue_index, dtype=np.int64)
        self.serving[idx] = np.argmax(self.rx_w[idx], axis=1)
        self._candidate[idx] = -1
        self._timer_s[idx] = 0.0

    def sinr(self, activity: np.ndarray | None = None) -> np.ndarray:
        """(n_ue,) linear SINR on the serving cell; activity (n_cell,) in [0, 1] weights interferers (None = full buffer)."""
        act = self._activity(activity)
        out = np.empty(self.num_ues)
        sinr_kernel(self.rx_w, self.serving, act, self.noise_w, out)
        return out

    def geometry(self) -> np.ndarray:
        """(n_ue,) linear full-buffer SIR without noise (the 3GPP "geometry")."""
        out = np.empty(self.num_ues)
        sinr_kernel(self.rx_w, self.serving, np.ones(self.num_cells), 0.0, out)
        return out

    def bits_per_prb(self, sinr_linear: np.ndarray) -> np.ndarray:
        """Bits per PRB per TTI for linear SINRs, with the scenario's link mapping, PRB bandwidth and TTI."""
        s = np.ascontiguousarray(np.asarray(sinr_linear, dtype=np.float64).reshape(-1))
        out = np.empty_like(s)
        bits_per_prb_kernel(s, *self.link.kernel_args(), self.cfg.prb_bandwidth_hz, self.tti_s, out)
        return out

    def _activity(self, activity) -> np.ndarray:
        if activity is None:
            return np.ones(self.num_cells)
        act = np.ascontiguousarray(np.asarray(activity, dtype=np.float64))
        if act.shape != (self.num_cells,):
            raise ValueError(f"activity must have shape ({self.num_cells},), got {act.shape}")
        if not ((act >= 0.0) & (act <= 1.0)).all():
            raise ValueError("activity must lie in [0, 1]")
        return act
