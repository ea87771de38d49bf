"""Scenario-file section `topology`: site layout, MEC placement, backhaul and neighbour relations."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Discriminator, Field, Tag, model_validator

from topology.model import StrictModel


class HexLayout(StrictModel):
    """First `num_sites` sites of a hexagonal spiral (1 centre, then rings of 6, 12, ...)."""

    kind: Literal["hex"] = "hex"
    num_sites: int = Field(7, ge=1, le=1027, description="4 = compact 4-site cluster, 19 = standard 2-ring layout")
    isd_m: float = Field(500.0, gt=0, le=100_000, description="inter-site distance; 500 m is 3GPP case 1 urban macro")
    sectors: Literal[1, 3] = 3
    # 36.942 / 36.814 convention: boresights at 30, 150, 270 deg (0 deg = east, counter-clockwise).
    boresights_deg: list[float] = Field(default_factory=lambda: [30.0, 150.0, 270.0])
    wrap_around: bool = Field(False, description="distances as the minimum over the 7 wrap-around images (needs a full ring layout: 7, 19, 37 ... sites)")
    height_m: float = Field(25.0, gt=0, le=300, description="BS antenna height; 25 m is the WINNER+ C2 / 38.901 UMa default")

    @model_validator(mode="before")
    @classmethod
    def _omni_boresight(cls, data):
        # A 1-sector (omni) site needs one boresight; default it to east instead of demanding [0].
        if isinstance(data, dict) and data.get("sectors") == 1 and "boresights_deg" not in data:
            data = {**data, "boresights_deg": [0.0]}
        return data

    @model_validator(mode="after")
    def _check(self):
        if len(self.boresights_deg) != self.sectors:
            raise ValueError(f"boresights_deg has {len(self.boresights_deg)} entries but sectors is {self.sectors}")
        if self.wrap_around:
            rings, total = 0, 1
            while total < self.num_sites:
                rings += 1
                total += 6 * rings
            if total != self.num_sites or rings == 0:
                raise ValueError(
                    f"wrap_around needs a full-ring layout (7, 19, 37, ... sites), got num_sites={self.num_sites}"
                )
        return self


class ExplicitSite(StrictModel):
    name: str | None = None
    x_m: float
    y_m: float
    sectors: Literal[1, 3] = 3
    boresights_deg: list[float] | None = None
    height_m: float = Field(25.0, gt=0, le=300)

    @model_validator(mode="after")
    def _check(self):
        if self.boresights_deg is not None and len(self.boresights_deg) != self.sectors:
            raise ValueError(f"boresights_deg has {len(self.boresights_deg)} entries but sectors is {self.sectors}")
        return self


class ExplicitLayout(StrictModel):
    """Sites at coordinates given in the scenario file."""

    kind: Literal["explicit"]
    sites: list[ExplicitSite] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self):
        seen: dict[tuple[float, float], int] = {}
        for i, s in enumerate(self.sites):
            j = seen.setdefault((s.x_m, s.y_m), i)
            if j != i:
                raise ValueError(f"sites[{j}] and sites[{i}] are both at ({s.x_m}, {s.y_m}); give each site its own position")
        return self


Layout = Annotated[Union[HexLayout, ExplicitLayout], Field(discriminator="kind")]


class Area(StrictModel):
    """Rectangle in which UEs / IoT devices live; when absent it is derived from the layout."""

    x_m: tuple[float, float]
    y_m: tuple[float, float]

    @model_validator(mode="after")
    def _check(self):
        if not (self.x_m[0] < self.x_m[1] and self.y_m[0] < self.y_m[1]):
            raise ValueError("area bounds must be [min, max] with min < max")
        return self


class BackhaulLink(StrictModel):
    latency_ms: float = Field(1.0, ge=0, le=10_000)
    capacity_mbps: float = Field(1000.0, gt=0)


def _check_placement(site: int | None, x_m: float | None, y_m: float | None) -> None:
    """A MEC node sits at a site (by index) or at free coordinates — exactly one of the two."""
    free = x_m is not None or y_m is not None
    if site is None and not (x_m is not None and y_m is not None):
        raise ValueError("give either site (index) or both x_m and y_m")
    if site is not None and free:
        raise ValueError("give either site or x_m/y_m, not both")


class MecServerPlace(StrictModel):
    """One MEC server: attached to a site (by index) or placed freely at (x_m, y_m)."""

    name: str | None = None
    site: int | None = Field(None, ge=0)
    x_m: float | None = None
    y_m: float | None = None
    backhaul: BackhaulLink | None = None

    @model_validator(mode="after")
    def _check(self):
        _check_placement(self.site, self.x_m, self.y_m)
        return self


class CoreMec(StrictModel):
    """The core MEC (C-MEC); by default co-located with the core router at site 0."""

    site: int | None = Field(0, ge=0)
    x_m: float | None = None
    y_m: float | None = None
    backhaul: BackhaulLink = Field(default_factory=lambda: BackhaulLink(latency_ms=5.0, capacity_mbps=10_000.0))

    @model_validator(mode="before")
    @classmethod
    def _free_placement(cls, data):
        # Coordinates without an explicit site mean "placed freely": drop the site-0 default.
        if isinstance(data, dict) and ("x_m" in data or "y_m" in data) and "site" not in data:
            data = {**data, "site": None}
        return data

    @model_validator(mode="after")
    def _check(self):
        _check_placement(self.site, self.x_m, self.y_m)
        return self


class MecPlacement(StrictModel):
    # The callable discriminator reports errors from the branch the value is meant for (a list
    # gets the per-server errors, not "should be 'none' or 'per_site'"). The "tagged-union" tag
    # prefix keeps the tag out of located error paths (emulator.config drops such parts).
    servers: Annotated[
        Union[
            Annotated[Literal["none", "per_site"], Tag("tagged-union-mode")],
            Annotated[list[MecServerPlace], Tag("tagged-union-list")],
        ],
        Discriminator(lambda v: "tagged-union-list" if isinstance(v, list) else "tagged-union-mode"),
    ] = "none"
    core: CoreMec | None = None
    # MEC-to-site link for servers without their own `backhaul`. Our choice (the MEC paper leaves
    # it open): a server in the site's cabinet behind a local switch, 0.1 ms and 10 Gbit/s.
    default_backhaul: BackhaulLink = Field(default_factory=lambda: BackhaulLink(latency_ms=0.1, capacity_mbps=10_000.0))


class Neighbours(StrictModel):
    """Which cells count as each other's neighbours (used for the paper's neighbour-load feature)."""

    mode: Literal["k_nearest", "radius", "coupling"] = "k_nearest"
    k: int = Field(6, ge=0, le=1000)
    radius_m: float = Field(1000.0, gt=0)
    symmetric: bool = True


class TopologyConfig(StrictModel):
    layout: Layout = Field(default_factory=HexLayout)
    area: Area | None = None
    site_backhaul: BackhaulLink = Field(default_factory=BackhaulLink)
    mec: MecPlacement = Field(default_factory=MecPlacement)
    neighbours: Neighbours = Field(default_factory=Neighbours)

    @property
    def num_sites(self) -> int:
        """Number of sites the layout places."""
        return self.layout.num_sites if isinstance(self.layout, HexLayout) else len(self.layout.sites)

    @model_validator(mode="after")
    def _site_indices(self):
        n = self.num_sites
        if isinstance(self.mec.servers, list):
            for j, srv in enumerate(self.mec.servers):
                if srv.site is not None and srv.site >= n:
                    raise ValueError(f"mec.servers[{j}].site = {srv.site} is out of range: the layout has {n} sites (0..{n - 1})")
        if self.mec.core is not None and self.mec.core.site is not None and self.mec.core.site >= n:
            raise ValueError(f"mec.core.site = {self.mec.core.site} is out of range: the layout has {n} sites (0..{n - 1})")
        return self
