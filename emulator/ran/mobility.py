"""UE positions and their motion (random waypoint, random direction, static), vectorised over all UEs."""
from __future__ import annotations

import numpy as np

from emulator.ran.config import MobilityConfig


def uniform_in_disc(centre_xy: np.ndarray, radius_m: float, rng: np.random.Generator) -> np.ndarray:
    """One point uniformly distributed in the disc of `radius_m` around each row of centre_xy."""
    n = centre_xy.shape[0]
    r = radius_m * np.sqrt(rng.random(n))
    a = 2.0 * np.pi * rng.random(n)
    return centre_xy + np.column_stack((r * np.cos(a), r * np.sin(a)))


def reflect_into(x: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """(x folded into [lo, hi] by mirroring, True where an odd number of mirrorings flipped direction)."""
    span = hi - lo
    y = np.mod(x - lo, 2.0 * span)
    flipped = y > span
    return lo + np.where(flipped, 2.0 * span - y, y), flipped


class Mobility:
    """Positions (U, 2) [m] in the area (xmin, xmax, ymin, ymax); `advance(dt)` moves every UE.

    random_waypoint: a UE walks in a straight line at a speed drawn uniformly from its range to a
    destination (within `home_radius_m` of its home cell centre, or anywhere in the area), pauses,
    then picks the next. A UE reaching its waypoint within a step stops there for the rest of that
    step (≤ one period of lost travel per leg, 0.1 s by default).
    random_direction: a UE keeps a uniformly drawn heading and speed for an exponentially
    distributed time, reflecting off the area's edges.
    """

    def __init__(self, cfg: MobilityConfig, home_xy: np.ndarray, speed_lo: np.ndarray, speed_hi: np.ndarray,
                 area: tuple[float, float, float, float], rng: np.random.Generator):
        self.cfg, self.rng = cfg, rng
        self.area = tuple(float(v) for v in area)
        self.home = np.asarray(home_xy, dtype=float)
        self.speed_lo = np.asarray(speed_lo, dtype=float)
        self.speed_hi = np.asarray(speed_hi, dtype=float)
        n = self.n = self.home.shape[0]
        self.xy = self._clip(uniform_in_disc(self.home, cfg.drop_radius_m, rng))
        self.speed = self._speeds(np.arange(n))
        if cfg.model == "random_waypoint":
            self.dest = self._destinations(np.arange(n))
            self.pause = np.zeros(n)
        elif cfg.model == "random_direction":
            self.heading = 2.0 * np.pi * rng.random(n)
            self.leg_left = rng.exponential(cfg.direction_mean_s, n)

    def _clip(self, xy: np.ndarray) -> np.ndarray:
        xmin, xmax, ymin, ymax = self.area
        return np.column_stack((np.clip(xy[:, 0], xmin, xmax), np.clip(xy[:, 1], ymin, ymax)))

    def _speeds(self, idx: np.ndarray) -> np.ndarray:
        lo, hi = self.speed_lo[idx], self.speed_hi[idx]
        return lo + (hi - lo) * self.rng.random(idx.size)

    def _destinations(self, idx: np.ndarray) -> np.ndarray:
        if self.cfg.home_radius_m is not None:
            return self._clip(uniform_in_disc(self.home[idx], self.cfg.home_radius_m, self.rng))
        xmin, xmax, ymin, ymax = self.area
        u = self.rng.random((idx.size, 2))
        return np.column_stack((xmin + (xmax - xmin) * u[:, 0], ymin + (ymax - ymin) * u[:, 1]))

    def advance(self, dt: float) -> None:
        model = self.cfg.model
        if model == "random_waypoint":
            self._waypoint(dt)
        elif model == "random_direction":
            self._direction(dt)

    def _waypoint(self, dt: float) -> None:
        pausing = self.pause > 0.0
        self.pause[pausing] = np.maximum(0.0, self.pause[pausing] - dt)
        moving = ~pausing
        vec = self.dest - self.xy
        dist = np.hypot(vec[:, 0], vec[:, 1])
        step = self.speed * dt
        arrive = moving & (dist <= step)
        go = moving & ~arrive
        frac = np.where(go, step / np.where(dist > 0, dist, 1.0), 0.0)
        self.xy = self.xy + vec * frac[:, None]
        self.xy[arrive] = self.dest[arrive]
        idx = np.flatnonzero(arrive)
        if idx.size:
            lo, hi = self.cfg.pause_s
            self.pause[idx] = lo + (hi - lo) * self.rng.random(idx.size)
            self.dest[idx] = self._destinations(idx)
            self.speed[idx] = self._speeds(idx)

    def _direction(self, dt: float) -> None:
        xmin, xmax, ymin, ymax = self.area
        x = self.xy[:, 0] + self.speed * dt * np.cos(self.heading)
        y = self.xy[:, 1] + self.speed * dt * np.sin(self.heading)
        x, fx = reflect_into(x, xmin, xmax)
        y, fy = reflect_into(y, ymin, ymax)
        # mirror the heading on the axis that was crossed
        self.heading = np.where(fx, np.pi - self.heading, self.heading)
        self.heading = np.where(fy, -self.heading, self.heading)
        self.xy = np.column_stack((x, y))
        self.leg_left -= dt
        idx = np.flatnonzero(self.leg_left <= 0.0)
        if idx.size:
            self.heading[idx] = 2.0 * np.pi * self.rng.random(idx.size)
            self.speed[idx] = self._speeds(idx)
            self.leg_left[idx] = self.rng.exponential(self.cfg.direction_mean_s, idx.size)
