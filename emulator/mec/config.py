"""Scenario-file section `mec`: IoT devices, tasks, uplink channel, MEC servers, objective and control."""
from __future__ import annotations

import copy
import math
from typing import Any, Literal

from pydantic import Field, model_validator

from topology.model import StrictModel


class Distribution(StrictModel):
    """A positive random quantity: `fixed` (value), `uniform` / `loguniform` (low, high) or
    `exponential` (mean). `loguniform` spreads task sizes over decades, so some tasks are cheaper
    to run locally and others to offload."""

    kind: Literal["fixed", "uniform", "loguniform", "exponential"] = "fixed"
    value: float | None = Field(None, gt=0)
    low: float | None = Field(None, gt=0)
    high: float | None = Field(None, gt=0)
    mean: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check(self):
        need = {"fixed": ("value",), "uniform": ("low", "high"), "loguniform": ("low", "high"),
                "exponential": ("mean",)}[self.kind]
        for name in need:
            if getattr(self, name) is None:
                raise ValueError(f"a {self.kind} distribution needs `{name}`")
        extra = [n for n in ("value", "low", "high", "mean") if n not in need and getattr(self, n) is not None]
        if extra:
            raise ValueError(f"a {self.kind} distribution takes {', '.join(need)}, not {', '.join(extra)}")
        if self.kind in ("uniform", "loguniform") and not self.low <= self.high:
            raise ValueError(f"{self.kind} needs low <= high (got {self.low:g} > {self.high:g})")
        return self

    @property
    def expected(self) -> float:
        if self.kind == "fixed":
            return float(self.value)
        if self.kind == "uniform":
            return 0.5 * (self.low + self.high)
        if self.kind == "loguniform":
            if self.high == self.low:
                return float(self.low)
            return (self.high - self.low) / math.log(self.high / self.low)
        return float(self.mean)


# Table I's "10^-12" read as W over B (see ChannelConfig.noise_power_w).
DEFAULT_NOISE_POWER_W = 1e-12


class ChannelConfig(StrictModel):
    """Uplink IoTD → receiver: h = β0·l/(d/d0)², r = B·log2(1 + p·h/σ²) (paper eqs. 2–3)."""

    # β0 = −50 dB channel power gain at the reference distance (reference/radio-models.md §7).
    ref_gain_db: float = Field(-50.0, ge=-150, le=0)
    # β0 is defined at 1 m (paper eq. 3); shorter links are outside the model, so devices are never
    # placed closer than this to a site or server.
    ref_distance_m: float = Field(1.0, gt=0, le=1000)
    # rayleigh: small-scale power fading l ~ Exp(1), redrawn each decision epoch (block fading);
    # nakagami: l ~ Gamma(m, 1/m) (Nakagami-m amplitude, unit mean power; m = 1 is Rayleigh's law,
    # larger m is milder, m → ∞ is no fading); none: l = 1.
    fading: Literal["rayleigh", "nakagami", "none"] = "rayleigh"
    nakagami_m: float = Field(1.0, ge=0.5, le=100, description="Nakagami m (used with fading: nakagami)")
    # 1 MHz per device (paper Table I); devices use orthogonal channels, as in eq. 2 (no interference).
    bandwidth_hz: float = Field(1e6, gt=0, le=1e9)
    # Table I's "10^-12" read as a noise power in W over B, not a density (reference §7): with
    # B = 1 MHz it is −90 dBm, thermal noise (−114 dBm) plus interference margin.
    # (Unset, it is this 1e-12 W unless noise_density_w_per_hz is given.)
    noise_power_w: float | None = Field(None, gt=0, le=1.0)
    # Alternatively the noise as a power spectral density N0 in W/Hz, σ² = N0·B (Table I's wording,
    # "noise spectral density"); set at most one of the two.
    noise_density_w_per_hz: float | None = Field(None, gt=0, le=1e-3)
    # serving_site: a device transmits to its access point (nearest site) and traffic to any other
    # server crosses the backhaul (real cellular access); direct: a device transmits straight to
    # the chosen server's position with no backhaul (the paper's idealisation, eq. 2–3).
    uplink: Literal["serving_site", "direct"] = "serving_site"

    @model_validator(mode="after")
    def _check_noise(self):
        if self.noise_density_w_per_hz is not None and self.noise_power_w is not None:
            raise ValueError("give the noise as noise_power_w or as noise_density_w_per_hz, not both")
        return self

    @property
    def ref_gain(self) -> float:
        return 10.0 ** (self.ref_gain_db / 10.0)

    @property
    def noise_w(self) -> float:
        """σ² in W over the bandwidth B: N0·B when a density is given, else noise_power_w."""
        if self.noise_density_w_per_hz is not None:
            return self.noise_density_w_per_hz * self.bandwidth_hz
        return DEFAULT_NOISE_POWER_W if self.noise_power_w is None else self.noise_power_w


class DevicesConfig(StrictModel):
    """IoT devices: placement, local CPU and transmit power limit."""

    # Paper VI-A: IoTDs "randomly distributed" in the area — uniform; or given coordinates.
    positions: list[tuple[float, float]] | None = Field(None, description="[[x_m, y_m], ...], one per device")
    # Table I (partly illegible) reads "10^9 cycles/s"; 1 GHz also keeps the local CPU power
    # κ·f³ = 1 W under the 1.5 W limit of eq. 7.
    local_cpu_hz: float = Field(1e9, gt=0, le=1e11)
    # Table I: P_max = 1.5 W.
    tx_power_max_w: float = Field(1.5, gt=0, le=100)
    # Paper III-A (after eq. 7), "to match realistic measurements" [20]: κ = 1e-27, ν = 3.
    kappa: float = Field(1e-27, gt=0, le=1e-20)
    nu: float = Field(3.0, gt=1, le=5)

    @model_validator(mode="after")
    def _check(self):
        power = self.kappa * self.local_cpu_hz**self.nu
        if power > self.tx_power_max_w:
            raise ValueError(
                f"local CPU power kappa·local_cpu_hz^nu = {power:.3g} W exceeds tx_power_max_w = "
                f"{self.tx_power_max_w:g} W (paper eq. 7 bounds both)"
            )
        return self


class TasksConfig(StrictModel):
    """Tasks U_i = (F_i cycles, D_i bits) and how they arrive."""

    # epoch: one task per device per decision epoch (the paper); poisson: each device draws tasks as
    # a Poisson process and a decision epoch decides every task that arrived since the last one.
    arrival: Literal["epoch", "poisson"] = "epoch"
    rate_hz: float = Field(0.2, gt=0, le=1e4, description="tasks per second per device (poisson)")
    # Table I: D_i = 100 kB = 8e5 bit.
    data_bits: Distribution = Field(default_factory=lambda: Distribution(kind="fixed", value=8e5))
    # Table I reads "10^9 cycles" (partly illegible). Our choice: uniform 0.1–2 Gcycles (mean
    # ~1 Gcycle); the spread makes small tasks cheaper at home than the upload, so offloading is a
    # per-device trade-off rather than always-on.
    cycles: Distribution = Field(default_factory=lambda: Distribution(kind="uniform", low=1e8, high=2e9))


class MecConfig(StrictModel):
    num_devices: int = Field(30, ge=1, le=100_000, description="30 IoTDs in the paper (VI-A)")
    # When set, the topology's site list is regenerated: this many single-sector small sites, one
    # MEC server each, on a grid over topology.area (see expand_num_servers). The sweep's way to
    # vary #servers (paper Fig. 10); leave unset to place servers in the topology section.
    num_servers: int | None = Field(None, ge=1, le=1000)
    # Table I: F_max = 50·10^9 cycles/s per MEC server; a list gives one value per server.
    server_cpu_hz: float | list[float] = Field(50e9)
    channel: ChannelConfig = Field(default_factory=ChannelConfig)
    devices: DevicesConfig = Field(default_factory=DevicesConfig)
    tasks: TasksConfig = Field(default_factory=TasksConfig)
    # φ_T [1/s] and φ_E [1/J] of eq. 10 (not given in the paper; equal weights are our choice).
    # φ_T > 0: with energy alone the best transmit power tends to 0 and uploads never end.
    phi_t: float = Field(1.0, gt=0, le=1e6)
    phi_e: float = Field(1.0, ge=0, le=1e6)
    # Our choice: long enough for a batch to finish under any sensible assignment (largest local
    # task 2 s), so each epoch is the paper's one-shot problem; shorter periods make batches overlap
    # and tasks queue.
    # Lower bound 1 ms: a vanishing period (1e-300) would schedule epochs that never advance the clock.
    decision_period_s: float = Field(5.0, ge=1e-3, le=1e6)
    # servers: one offloading point per MEC server, scores combined by the max vote (paper V-C);
    # core: one assignment point at the core MEC takes the full assignment vector.
    control: Literal["servers", "core"] = "servers"
    # CPU shares and transmit powers once the assignment is known (paper problem 13):
    # optimal (closed-form CPU split + optimal power), equal (equal split, full power), or
    # "package.module:factory" returning an object with allocate(batch) (see emulator.mec.allocation).
    resource_manager: str = Field("optimal", min_length=1)
    # Exhaustive search over (M+1)^N assignments is refused above this many candidates.
    optimal_max_evals: int = Field(1_000_000, ge=1, le=100_000_000)

    @model_validator(mode="after")
    def _check(self):
        if isinstance(self.server_cpu_hz, list):
            if not self.server_cpu_hz or any(not (c > 0) for c in self.server_cpu_hz):
                raise ValueError("server_cpu_hz must be positive (one value, or one per server)")
        elif not self.server_cpu_hz > 0:
            raise ValueError(f"server_cpu_hz must be positive (got {self.server_cpu_hz})")
        if self.devices.positions is not None and len(self.devices.positions) != self.num_devices:
            raise ValueError(
                f"devices.positions lists {len(self.devices.positions)} devices but num_devices is {self.num_devices}"
            )
        return self

    def server_capacity(self, num_servers: int) -> list[float]:
        """CPU capacity F_max_j of each of `num_servers` servers, cycles/s."""
        if isinstance(self.server_cpu_hz, list):
            if len(self.server_cpu_hz) != num_servers:
                raise ValueError(
                    f"mec.server_cpu_hz lists {len(self.server_cpu_hz)} values but the topology has {num_servers} MEC servers"
                )
            return [float(c) for c in self.server_cpu_hz]
        return [float(self.server_cpu_hz)] * num_servers


def grid_positions(n: int, area: tuple[float, float, float, float]) -> list[tuple[float, float]]:
    """Centres of the first `n` cells (row-major) of a near-square grid of ceil(sqrt(n)) columns over `area`."""
    xmin, xmax, ymin, ymax = area
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = []
    for k in range(n):
        r, c = divmod(k, cols)
        out.append((xmin + (c + 0.5) * (xmax - xmin) / cols, ymin + (r + 0.5) * (ymax - ymin) / rows))
    return out


def expand_num_servers(data: Any) -> Any:
    """Raw scenario dict with `mec.num_servers` set → topology sites and servers regenerated.

    Sites become `num_servers` single-sector small sites on `grid_positions` over topology.area, each
    hosting one MEC server (site j ↔ server j). The first listed site and server serve as templates
    for height and backhaul. The core MEC must be placed by coordinates (it keeps them). Idempotent,
    so a dumped scenario loads back unchanged.
    """
    if not isinstance(data, dict) or not isinstance(data.get("mec"), dict):
        return data
    m = data["mec"].get("num_servers")
    if m is None:
        return data
    if not isinstance(m, int) or isinstance(m, bool) or m < 1:
        return data  # the field validator reports the bad value with its path
    data = copy.deepcopy(data)
    if data.get("ran") is not None:
        raise ValueError("mec.num_servers regenerates the site list, which a `ran` section also uses; place servers in topology.mec.servers instead")
    topo = data.setdefault("topology", {}) or {}
    data["topology"] = topo
    layout = topo.get("layout") or {}
    if layout.get("kind") != "explicit":
        raise ValueError("mec.num_servers needs topology.layout.kind: explicit (it rewrites the site list)")
    area = topo.get("area")
    if not isinstance(area, dict) or "x_m" not in area or "y_m" not in area:
        raise ValueError("mec.num_servers needs topology.area (servers are spread over it)")
    mec_topo = topo.setdefault("mec", {}) or {}
    topo["mec"] = mec_topo
    core = mec_topo.get("core")
    if isinstance(core, dict) and not ("x_m" in core and "y_m" in core):
        raise ValueError("mec.num_servers needs the core MEC placed by x_m/y_m (its site would be regenerated)")
    sites = layout.get("sites") or [{}]
    template_site = sites[0] if isinstance(sites[0], dict) else {}
    servers = mec_topo.get("servers")
    template_server = servers[0] if isinstance(servers, list) and servers and isinstance(servers[0], dict) else {}
    (x0, x1), (y0, y1) = area["x_m"], area["y_m"]
    pos = grid_positions(m, (float(x0), float(x1), float(y0), float(y1)))
    new_sites = []
    for j, (x, y) in enumerate(pos):
        site = {"name": f"sbs{j}", "x_m": x, "y_m": y, "sectors": 1}
        if "height_m" in template_site:
            site["height_m"] = template_site["height_m"]
        new_sites.append(site)
    layout["sites"] = new_sites
    topo["layout"] = layout
    new_servers = []
    for j in range(m):
        srv: dict[str, Any] = {"name": f"mec{j}", "site": j}
        if template_server.get("backhaul") is not None:
            srv["backhaul"] = copy.deepcopy(template_server["backhaul"])
        new_servers.append(srv)
    mec_topo["servers"] = new_servers
    return data
