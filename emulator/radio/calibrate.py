"""Radio calibration: the TR 38.901 §7.8.1 phase-1 calibration against R1-165974, and the LTE survey figures.

`run_calibration("38901-uma-6ghz" | "38901-umi-6ghz")` builds the Table 7.8-1 deployment from
scenarios/calibration-38901-*.yaml, runs independent drops (each: new shadowing and LOS maps, new UE
positions and population, from seed + drop), and compares the CDFs of coupling gain, geometry SIR and
geometry SINR with the published 3GPP mean and company spread (emulator.radio.calibration_ref);
`write_calibration` writes the CDF plots and a CSV of the differences (`ranemu radio --calibration NAME`).

LTE survey figures: `python -m emulator.radio.calibrate [--ues N] [--seed S]`. Prints, per propagation setup,
the 5/50/95 % coupling loss (3GPP sign: received/transmitted power, negative dB), geometry SIR and
SINR, and the survey's wall time. The last two setups use TR 36.814 case-1 conditions
(36.814 antenna, 14 dBi, 20 dB penetration loss), the last one also its path loss, for comparison
with the 3GPP calibration campaigns (geometry median ≈ 3 dB, 5 % ≈ −3..−4 dB; coupling loss median ≈ −110..−115 dB).
"""
from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emulator.config import load_scenario, scenario_from_dict
from emulator.radio.calibration_ref import PERCENTILES, REFERENCE
from emulator.radio.survey import drop_ues, survey
from emulator.streams import RandomStreams

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
# TR 38.901 Table 7.8-1: minimum BS–UT 2-D distance 35 m (UMa), 10 m (UMi); 10 UEs per cell per drop.
CALIBRATIONS = {"38901-uma-6ghz": 35.0, "38901-umi-6ghz": 10.0}
UES_PER_CELL = 10
DEFAULT_DROPS = 40
METRICS = ("coupling_gain_db", "geometry_sir_db", "geometry_sinr_db")
# What "agrees" means (the spread between the 3GPP companies at 5/50/95 %): coupling gain ±3 dB,
# geometry ±0.75 dB around the companies' mean; the companies' own min–max is reported as well.
TOLERANCE_DB = {"coupling_gain_db": 3.0, "geometry_sir_db": 0.75, "geometry_sinr_db": 0.75}
CHECK_PERCENTILES = (5, 50, 95)
BOOTSTRAP_RESAMPLES = 200

SETUPS = {
    "WINNER+ C2": {"pathloss": "winner_c2"},
    "38.901 UMa": {"pathloss": "uma"},
    "38.901 UMa, 36.814 antenna, 14 dBi, 20 dB penetration": {
        "pathloss": "uma",
        "penetration_loss_db": 20.0,
        "antenna": {"pattern": "36814", "gain_dbi": 14.0},
    },
    # TR 36.814 case 1 as the 3GPP LTE calibration ran it: the 36.942 macro law, σ 8 dB, 2-D antenna.
    "36.814 case 1 (128.1+37.6 log R, 20 dB penetration)": {
        "pathloss": "tr36942_macro",
        "penetration_loss_db": 20.0,
        "antenna": {"pattern": "36814", "gain_dbi": 14.0},
    },
}


def calibration_scenario(radio_overrides: dict, seed: int = 1):
    """19-site, 57-cell, ISD 500 m hexagonal layout with wrap-around at 2 GHz, 46 dBm."""
    radio = {"carrier_ghz": 2.0, "tx_power_dbm": 46.0, **radio_overrides}
    return scenario_from_dict({
        "name": "calibration_19site_isd500",
        "seed": seed,
        "ran": {"slices": [{"name": "survey"}]},
        "topology": {"layout": {"kind": "hex", "num_sites": 19, "isd_m": 500.0, "wrap_around": True}},
        "radio": radio,
    })


@dataclass
class CalibrationResult:
    """Per-UE values pooled over all drops, and how they were produced."""

    name: str
    values: dict[str, np.ndarray]  # METRICS -> (drops·ues,) dB, drop after drop
    drops: int
    ues_per_drop: int
    seed: int
    wall_s: float

    def percentiles(self, q=PERCENTILES) -> dict[str, np.ndarray]:
        return {k: np.percentile(v, q) for k, v in self.values.items()}

    def confidence_intervals(self, q=PERCENTILES, resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, np.ndarray]:
        """95 % bootstrap CI of each percentile, resampling whole drops (drops are independent, UEs of a drop are not).

        Returns METRICS -> (2, len(q)) [low; high]. Seeded from the run's seed, so it is reproducible.
        """
        rng = np.random.default_rng([self.seed, self.drops])
        out = {}
        for k, v in self.values.items():
            per_drop = v.reshape(self.drops, self.ues_per_drop)
            boots = np.empty((resamples, len(q)))
            for b in range(resamples):
                boots[b] = np.percentile(per_drop[rng.integers(0, self.drops, self.drops)], q)
            out[k] = np.percentile(boots, [2.5, 97.5], axis=0)
        return out

    def differences(self) -> list[dict]:
        """One row per metric and reference percentile: ranemu, 3GPP mean / min / max, ranemu − mean, verdicts."""
        ref = REFERENCE[self.name]
        ours = self.percentiles()
        ci = self.confidence_intervals()
        rows = []
        for k in METRICS:
            for i, q in enumerate(PERCENTILES):
                mean, lo, hi = (ref[k][s][i] for s in ("mean", "min", "max"))
                v = float(ours[k][i])
                rows.append({"metric": k, "percentile": q, "ranemu_db": v, "ranemu_ci95_low_db": float(ci[k][0, i]),
                             "ranemu_ci95_high_db": float(ci[k][1, i]), "ref_mean_db": mean, "ref_min_db": lo,
                             "ref_max_db": hi, "diff_db": v - mean, "within_company_range": lo <= v <= hi,
                             "within_tolerance": abs(v - mean) <= TOLERANCE_DB[k]})
        return rows


def calibration_scenario_file(name: str) -> Path:
    if name not in CALIBRATIONS:
        raise ValueError(f"unknown calibration {name!r}; known: {', '.join(CALIBRATIONS)}")
    return SCENARIO_DIR / f"calibration-{name}.yaml"


def run_calibration(name: str, drops: int = DEFAULT_DROPS, seed: int | None = None, progress=None) -> CalibrationResult:
    """Run `drops` independent drops of the named Table 7.8-1 deployment; UEs_PER_CELL UEs per cell per drop.

    Serving cell: the strongest received power (RSRP with path loss, shadowing, O2I and antenna gains;
    0 dB handover margin). Coupling gain = serving received power / transmitted power per PRB.
    """
    from emulator.radio.model import RadioModel  # noqa: PLC0415 (survey pulls in matplotlib; keep import order local)
    from topology.build import build_topology  # noqa: PLC0415

    if drops < 1:
        raise ValueError(f"need at least one drop, got {drops}")
    sc = load_scenario(calibration_scenario_file(name))
    seed = sc.seed if seed is None else int(seed)
    graph = build_topology(sc.topology)
    t0 = time.perf_counter()
    out = {k: [] for k in METRICS}
    n_ue = 0
    for drop in range(drops):
        streams = RandomStreams(seed + drop)
        rm = RadioModel(sc.radio, graph, streams, sc.clock.tti_ms * 1e-3)
        n_ue = UES_PER_CELL * rm.num_cells
        xy = drop_ues(rm, n_ue, CALIBRATIONS[name], streams.get("radio.survey"))
        rm.update(xy)
        s = rm.serving
        out["coupling_gain_db"].append(10.0 * np.log10(rm.rx_w[np.arange(len(s)), s] / rm.tx_w_per_prb))
        out["geometry_sir_db"].append(10.0 * np.log10(rm.geometry()))
        out["geometry_sinr_db"].append(10.0 * np.log10(rm.sinr()))
        if progress is not None:
            progress(drop + 1, drops)
    values = {k: np.concatenate(v) for k, v in out.items()}
    return CalibrationResult(name, values, drops, n_ue, seed, time.perf_counter() - t0)


_TITLES = {"coupling_gain_db": "Coupling gain, serving cell [dB]", "geometry_sir_db": "Geometry SIR (no noise) [dB]",
           "geometry_sinr_db": "Geometry SINR (with noise) [dB]"}


def write_calibration(result: CalibrationResult, out_dir) -> list[Path]:
    """CDF PNGs (ranemu over the 3GPP mean and company range) and calibration_differences.csv; returns the paths."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ref = REFERENCE[result.name]
    q = np.asarray(PERCENTILES) / 100.0
    paths: list[Path] = []
    for k in METRICS:
        v = np.sort(result.values[k])
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        ax.fill_betweenx(q, ref[k]["min"], ref[k]["max"], color="0.85", label="3GPP companies, min–max (R1-165974)")
        ax.plot(ref[k]["mean"], q, "k--", lw=1.2, marker="+", label="3GPP mean (R1-165974)")
        ax.plot(v, np.arange(1, len(v) + 1) / len(v), lw=1.8, label=f"ranemu ({result.drops} drops × {result.ues_per_drop} UEs)")
        ax.set_xlabel(_TITLES[k])
        ax.set_ylabel("CDF")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
        ax.set_title(f"TR 38.901 phase-1 calibration, {result.name}", fontsize=10)
        fig.tight_layout()
        p = out / f"{k.removesuffix('_db')}_cdf.png"
        fig.savefig(p, dpi=120)
        plt.close(fig)
        paths.append(p)
    csv_path = out / "calibration_differences.csv"
    rows = result.differences()
    with csv_path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in r.items()})
    paths.append(csv_path)
    return paths


def summary_lines(result: CalibrationResult) -> list[str]:
    """Human-readable 5/50/95 % comparison (ranemu, 3GPP mean, difference, company range)."""
    lines = [f"{result.name}: {result.drops} drops × {result.ues_per_drop} UEs, seed {result.seed}, {result.wall_s:.1f} s"]
    for r in result.differences():
        if r["percentile"] in CHECK_PERCENTILES:
            lines.append(f"  {r['metric']:18s} {r['percentile']:3d} %: ranemu {r['ranemu_db']:8.2f} "
                         f"[{r['ranemu_ci95_low_db']:.2f}, {r['ranemu_ci95_high_db']:.2f}]  3GPP mean "
                         f"{r['ref_mean_db']:8.2f}  diff {r['diff_db']:+6.2f}  companies [{r['ref_min_db']:.2f}, "
                         f"{r['ref_max_db']:.2f}]  {'ok' if r['within_tolerance'] else 'OUTSIDE ±' + str(TOLERANCE_DB[r['metric']])}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ues", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    # The first survey also compiles (or loads cached) numba kernels; time it separately.
    survey(calibration_scenario(SETUPS["WINNER+ C2"], args.seed), n_ues=100)
    print(f"19 sites / 57 cells, ISD 500 m, wrap-around, 2 GHz, 46 dBm, {args.ues} UEs, ≥ 35 m from sites")
    print(f"{'setup':56s} {'coupling loss dB 5/50/95':>26s} {'geometry dB 5/50/95':>22s} {'SINR dB 5/50/95':>22s} {'time s':>7s}")
    for name, radio in SETUPS.items():
        t0 = time.perf_counter()
        r = survey(calibration_scenario(radio, args.seed), n_ues=args.ues)
        wall = time.perf_counter() - t0
        p = r.percentiles()
        fmt = lambda a: "/".join(f"{v:.1f}" for v in a)  # noqa: E731
        print(f"{name:56s} {fmt(p['coupling_loss_db']):>26s} {fmt(p['geometry_sir_db']):>22s} "
              f"{fmt(p['sinr_db']):>22s} {wall:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
