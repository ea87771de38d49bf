"""The slicing paper end to end: traffic-aware baseline, coordinated distributed TD3, VAE similarity and transfer learning.

    python -m agents.experiments.slicing_tl [--seeds 5] [--quick] [--out DIR] [--resume]
        [--scenario scenarios/slicing-paper.yaml] [--param PATH=VALUE ...] [--world continuous|episodic]
    ranemu experiment slicing-tl ...        (the same command, through the CLI's experiment group)

Reproduces Hu et al. (papers/slicing-transfer-learning-madrl.txt) §IV–§V. Per seed s:
1. Source world (world seed s): the traffic-aware baseline and the coordinated distributed TD3
   (`agents.td3`; paper schedule 3,000 exploration + 5,500 training + 250 evaluation steps) run on
   the same world; the TD3 checkpoints keep their replay buffers (instance transfer needs them).
2. Default-action samples (§IV-B): in the source world and in a target world (world seed s + 1000,
   a re-deployment: new UE drops, traffic and masks), every cell plays the default action (equal
   split) for `samples` steps; each cell's (state, reward) samples are saved with its id.
3. Similarity: one VAE (`agents.vae`) on the union of the 24 sample sets; D_ik between source
   cell i (source world) and target cell k (target world); the 12 × 12 matrix as CSV and heatmap.
4. Transfer protocol: every cell k of the target world is a target at once (one world, 12 new
   agents), each with candidate sources = the other 11 pretrained agents (i ≠ k: a cell never gets
   its own agent back). Variants, each one run of 4,000 fine-tuning + 250 evaluation steps (§V.2):
   `none` (TD3 from scratch with the same budget, no exploration phase), `model` and `instance`
   (most similar source by eq. 10), `combined` from the most and from the least similar source.
   The baseline runs on the target world too (same steps) for a same-world comparison.
5. Outputs in the run folder: kpis.parquet (all methods, per step × cell × slice), metrics.json,
   ccdf_min_thr_sat.png, cdf_max_delay.png (paper Figs. 5, 6), rewards.png (Fig. 4), distance.csv /
   distance.png (Fig. 7), tl_gain_vs_distance.png (Fig. 8), table.md / table.csv (ours with 95 %
   CIs over seeds next to the paper's values), by_load.csv (P and reward per traffic tercile) and
   summary.json.
Training uses one continuous world per run (`--world continuous`, the paper trains on one run);
`--world episodic` starts a new world every scenario duration instead.

Every run is a job of the shared runner (`bridge.jobs`, local worker processes or Ray: `--engine`,
`--workers`), a top-level function of JSON-able arguments that writes its files into its own
folder and returns a JSON-able dict. Each seed's stages are runner folders under
`seedS/jobs/`; `--resume` keeps the finished jobs, and `--report-only` rebuilds the outputs
from whatever has finished without running anything.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agents.experiments import jobs as jobrunner
from agents.slicing_metrics import PAPER, KpiLog, cell_samples, mean_ci95, paper_metrics, plot_distributions, summarize

DEFAULT_SCENARIO = "scenarios/slicing-paper.yaml"
MODULE = "agents.experiments.slicing_tl"  # the jobs' import path, also when this file runs as __main__
TARGET_WORLD_OFFSET = 1000
VARIANTS = {  # name → (transfer method, source choice)
    "tl_none": ("none", None),
    "tl_model_most": ("model", "most"),
    "tl_instance_most": ("instance", "most"),
    "tl_combined_most": ("combined", "most"),
    "tl_combined_least": ("combined", "least"),
}


@dataclasses.dataclass
class Protocol:
    """Step counts of the protocol. Defaults: paper §V.2; `quick()` for smoke runs and tests."""

    exploration: int = 3000
    training: int = 5500
    evaluation: int = 250
    tl_training: int = 4000
    tl_evaluation: int = 250
    samples: int = 300            # default-action steps per world (ours: the paper gives no count)
    vae_epochs: int = 200
    instances: int = 4000         # source transitions transferred (agents.transfer)

    @classmethod
    def quick(cls) -> "Protocol":
        return cls(exploration=30, training=60, evaluation=20, tl_training=60, tl_evaluation=20, samples=30,
                   vae_epochs=40, instances=60)


# -- helpers --------------------------------------------------------------------------------------------
def _env(scenario: str, overrides: dict[str, Any], world: str):
    from agents.experiments.slicing_calibration import _resolve
    from agents.td3 import continuous_world
    from bridge.envs import slicing_parallel_env

    extra = continuous_world() if world == "continuous" else {}
    return slicing_parallel_env(_resolve(scenario), overrides={**extra, **overrides})


def _save_run(out: Path, kpis: pd.DataFrame, rewards: np.ndarray, phases: list[str]) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    kpis.to_parquet(out / "kpis.parquet", index=False)
    np.save(out / "rewards.npy", rewards)
    (out / "phases.json").write_text(json.dumps(phases))
    ev = kpis[kpis["phase"] == "evaluation"]
    return {"metrics": summarize(cell_samples(ev)) if len(ev) else None,
            "mean_reward": float(rewards.mean()),
            "eval_reward": float(rewards[[p == "evaluation" for p in phases]].mean())
            if "evaluation" in phases else None}


def _td3_config(cfg: dict[str, Any]):
    from agents.td3 import TD3Config

    return TD3Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})


# -- jobs (top-level functions of JSON-able arguments) ---------------------------------------------
def baseline_job(scenario: str, overrides: dict, seed: int, steps: int, evaluation: int, out_dir: str,
                 policy: str = "traffic_aware", method: str = "baseline", world: str = "continuous") -> dict:
    """The built-in `policy` on every cell for `steps` steps (the last `evaluation` labelled so)."""
    import torch

    from agents.td3 import baseline_rewards

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    phases = ["training"] * (steps - evaluation) + ["evaluation"] * evaluation
    log = KpiLog(method, seed)
    env = _env(scenario, overrides, world)
    try:
        rewards = baseline_rewards(env, policy, steps, seed, on_info=lambda t, i, r: log.add(t, phases[t], i, r))
    finally:
        env.close()
    out = _save_run(Path(out_dir), log.frame(), rewards.mean(axis=1), phases)
    np.save(Path(out_dir) / "rewards_cells.npy", rewards)
    return {**out, "method": method, "seed": seed, "steps": steps, "wall_s": round(time.perf_counter() - t0, 1)}


def drl_job(scenario: str, overrides: dict, seed: int, config: dict, out_dir: str, world: str = "continuous") -> dict:
    """Coordinated distributed TD3 from scratch (paper §IV-A); checkpoints with replay buffers in out_dir/checkpoints."""
    from agents.td3 import train

    t0 = time.perf_counter()
    cfg = _td3_config(config)
    log = KpiLog("drl", seed)
    env = _env(scenario, overrides, world)
    try:
        result = train(env, cfg, seed, baseline=None, on_info=log.add)
    finally:
        env.close()
    out = Path(out_dir)
    result.agents.save(out / "checkpoints", extra={"scenario": scenario, "overrides": overrides, "world": world},
                       replay=True)
    info = _save_run(out, log.frame(), result.rewards.mean(axis=1), result.phases)
    np.save(out / "rewards_cells.npy", result.rewards)
    return {**info, "method": "drl", "seed": seed, "steps": cfg.total_steps, "roles": result.roles,
            "wall_s": round(time.perf_counter() - t0, 1)}


def samples_job(scenario: str, overrides: dict, seed: int, steps: int, out_file: str, world: str = "continuous") -> dict:
    """Default-action samples (§IV-B): every cell plays its point's default action (equal split) for `steps`.

    Saves `out_file` (.npz): `cells` (K,) cell ids, `roles`, and `x` (K, steps, 4N + 1) = the cell's
    raw observation s(t) and the reward r(t) of the same period, for every step.
    """
    env = _env(scenario, overrides, world)
    try:
        roles = list(env.possible_agents)
        n = int(np.prod(env.action_space(roles[0]).shape))
        default = np.full(n, 1.0 / n)  # SlicePartitionPoint.default_action: the equal split
        obs, info = env.reset(seed=seed)
        x = []
        for _ in range(steps):
            obs, rew, _, _, info = env.step({r: default for r in env.agents})
            x.append([np.append(obs[r], rew[r]) for r in roles])
            if not env.agents:
                obs, info = env.reset()
        cells = [int(info[r]["cell"]) for r in roles]
    finally:
        env.close()
    arr = np.asarray(x, dtype=np.float64).transpose(1, 0, 2)
    Path(out_file).parent.mkdir(parents=True, exist_ok=True)
    np.savez(out_file, x=arr, cells=np.asarray(cells), roles=np.asarray(roles))
    return {"file": out_file, "cells": cells, "shape": list(arr.shape), "mean_reward": float(arr[..., -1].mean())}


def tl_job(scenario: str, overrides: dict, seed: int, world_seed: int, method: str, source_dir: str | None,
           assignment: dict[str, str], config: dict, instances: int, out_dir: str, variant: str,
           world: str = "continuous") -> dict:
    """Fine-tune every target cell's agent with `method` from its assigned source (agents.transfer)."""
    from agents.td3 import env_spec, train
    from agents.transfer import transferred_team

    t0 = time.perf_counter()
    cfg = _td3_config(config)
    log = KpiLog(variant, seed)
    env = _env(scenario, overrides, world)
    try:
        roles, low, high, act_dim = env_spec(env)
        team = transferred_team(method, roles, low, high, act_dim, cfg, world_seed, source_dir, assignment,
                                instances)
        result = train(env, cfg, world_seed, baseline=None, team=team, on_info=log.add)
    finally:
        env.close()
    out = Path(out_dir)
    info = _save_run(out, log.frame(), result.rewards.mean(axis=1), result.phases)
    np.save(out / "rewards_cells.npy", result.rewards)
    return {**info, "method": variant, "transfer": method, "seed": seed, "world_seed": world_seed,
            "assignment": assignment, "wall_s": round(time.perf_counter() - t0, 1)}


# -- similarity ------------------------------------------------------------------------------------------
def similarity_for_seed(source_file: Path, target_file: Path, epochs: int, seed: int, out: Path) -> dict:
    """VAE on the union of the source and target worlds' samples; D[source cell, target cell]; eq. 10 choices."""
    from agents.vae import VaeConfig, pairwise_matrix, similarity

    cached = out / "similarity.json"
    if cached.exists():
        return json.loads(cached.read_text())
    src, tgt = np.load(source_file), np.load(target_file)
    roles = [str(r) for r in src["roles"]]
    samples = {f"S:{r}": src["x"][i] for i, r in enumerate(roles)}
    samples.update({f"T:{r}": tgt["x"][i] for i, r in enumerate(roles)})
    # Standardise each feature over the union so that every feature weighs alike in the reconstruction.
    union = np.concatenate(list(samples.values()))
    mu, sd = union.mean(axis=0), union.std(axis=0)
    sd = np.where(sd > 1e-9, sd, 1.0)
    samples = {k: (v - mu) / sd for k, v in samples.items()}
    res = similarity(samples, VaeConfig(epochs=epochs, seed=seed))
    names = res["names"]
    si = [names.index(f"S:{r}") for r in roles]
    ti = [names.index(f"T:{r}") for r in roles]
    d = np.asarray(res["distance"])[np.ix_(si, ti)]
    p = np.asarray(res["pairwise"])[np.ix_(si, ti)]
    most, least = {}, {}
    for k, target in enumerate(roles):
        cand = [i for i in range(len(roles)) if i != k]
        col = d[cand, k]
        most[target] = roles[cand[int(np.argmin(col))]]
        least[target] = roles[cand[int(np.argmax(col))]]
    p_most = {t: roles[[i for i in range(len(roles)) if i != k][int(np.argmin(p[[i for i in range(len(roles)) if i != k], k]))]]
              for k, t in enumerate(roles)}
    result = {"roles": roles, "distance": d.tolist(), "pairwise": p.tolist(), "most": most, "least": least,
              "most_by_pairwise": p_most, "vae_final_loss": res["losses"][-1], "vae_sigma_mean": res["sigma_mean"],
              "vae_config": res["config"], "standardised": True}
    out.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(result, indent=1))
    return result


# -- aggregation and figures ----------------------------------------------------------------------------
METHOD_LABELS = {"baseline": "baseline (source world)", "drl": "DRL (TD3)", "baseline_tw": "baseline (target world)",
                 "tl_none": "DRL, TL budget (target world)", "tl_model_most": "TL model, most similar",
                 "tl_instance_most": "TL instance, most similar", "tl_combined_most": "TL combined, most similar",
                 "tl_combined_least": "TL combined, least similar"}
PAPER_ROW = {"baseline": "baseline", "drl": "drl", "tl_combined_most": "tl"}
METRICS = [("p_thr_sat_below_095", "P(min thr. satisfaction < 0.95)"), ("mean_min_thr_sat", "mean min thr. satisfaction"),
           ("mean_max_delay_ms", "max per-slice delay, mean [ms]"), ("median_max_delay_ms", "max per-slice delay, median [ms]"),
           ("p90_max_delay_ms", "max per-slice delay, p90 [ms]")]


def results_table(kpis: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, metric): mean over seeds, 95 % CI half-width, seeds, paper value."""
    per = paper_metrics(kpis, "evaluation")
    rows = []
    for method in METHOD_LABELS:
        if method not in per:
            continue
        seeds = per[method]["per_seed"]
        for key, label in METRICS:
            mean, ci = mean_ci95([s[key] for s in seeds.values()])
            paper = PAPER.get(PAPER_ROW.get(method, ""), {}).get(key)
            rows.append({"method": METHOD_LABELS[method], "metric": label, "ours_mean": mean, "ci95": ci,
                         "seeds": len(seeds), "pooled": per[method]["pooled"][key],
                         "paper": np.nan if paper is None else paper})
    return pd.DataFrame(rows)


def by_load(kpis: pd.DataFrame) -> pd.DataFrame:
    """Evaluation samples split by traffic level: P(m < 0.95) and the mean reward per method and load tercile.

    The level of a step is the number of active UEs summed over cells and slices; terciles are taken
    per (method, seed) run, so "high" is each run's busiest third of steps (the paper's claim is
    about the periods "with higher traffic demands and strong inter-cell interference").
    """
    ev = kpis[kpis["phase"] == "evaluation"]
    if not len(ev):
        return pd.DataFrame()
    s = cell_samples(ev).set_index(["method", "seed", "step", "cell"])
    s["reward"] = ev.groupby(["method", "seed", "step", "cell"])["reward"].first()
    users = ev.groupby(["method", "seed", "step"])["active_users"].sum().rename("users")
    s = s.join(users, on=["method", "seed", "step"]).reset_index()
    s["load"] = s.groupby(["method", "seed"])["users"].transform(
        lambda u: pd.qcut(u.rank(method="first"), 3, labels=["low", "mid", "high"]))
    out = s.groupby(["method", "load"], observed=True).agg(
        p_thr_sat_below_095=("min_thr_sat", lambda x: float((x < 0.95).mean())), mean_reward=("reward", "mean"),
        samples=("reward", "size")).reset_index()
    return out


def write_table(table: pd.DataFrame, out: Path) -> None:
    table.to_csv(out / "table.csv", index=False, float_format="%.4f")
    lines = ["| method | metric | ours (mean over seeds ± 95 % CI) | seeds | paper |", "|---|---|---|---|---|"]
    for r in table.itertuples():
        ours = f"{r.ours_mean:.3f}" + ("" if np.isnan(r.ci95) else f" ± {r.ci95:.3f}")
        paper = "" if np.isnan(r.paper) else f"{r.paper:g}"
        lines.append(f"| {r.method} | {r.metric} | {ours} | {r.seeds} | {paper} |")
    (out / "table.md").write_text("\n".join(lines) + "\n")


def _rolling(x: np.ndarray, w: int) -> np.ndarray:
    from agents.td3 import rolling_mean

    return rolling_mean(x, max(1, w))


def plot_rewards(curves: dict[str, list[np.ndarray]], tl_start: int, path: Path, window: int) -> None:
    """Paper Fig. 4: mean reward per step (mean over cells and seeds, rolling mean), TL curves from the TL start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    colors = {"baseline": "tab:orange", "drl": "tab:blue", "tl_combined_most": "tab:green",
              "tl_combined_least": "tab:red", "tl_none": "tab:gray", "tl_model_most": "tab:olive",
              "tl_instance_most": "tab:purple", "baseline_tw": "tab:brown"}
    for name, runs in curves.items():
        if not runs:
            continue
        n = min(len(r) for r in runs)
        mean = np.mean([r[:n] for r in runs], axis=0)
        x = np.arange(n)
        if name == "drl":
            cut = min(n, tl_start)
            ax.plot(x[:cut], _rolling(mean, window)[:cut], color=colors[name], lw=1.5, label=METHOD_LABELS[name])
            ax.plot(x[cut - 1:], _rolling(mean, window)[cut - 1:], color=colors[name], lw=1.2, ls="--")
        else:
            ax.plot(x, _rolling(mean, window), color=colors.get(name), lw=1.3, label=METHOD_LABELS[name])
    ax.set_xlabel("training step (TL curves: fine-tuning step in the target world)")
    ax.set_ylabel(f"reward r_k, mean over cells and seeds ({window}-step rolling mean)")
    ax.set_title("Reward during training (paper Fig. 4); DRL dashed after the TL budget")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def tl_gains(run_dir: Path, seeds: list[int], sims: dict[int, dict], window: int) -> pd.DataFrame:
    """Per seed, target cell and TL-combined variant: gain over DRL at equal steps vs the source's distance.

    DRL at equal steps = the `tl_none` run (TD3 from scratch with the same budget in the same target
    world); gain = mean over steps [0, window) (and over all fine-tuning steps) of r_TL,k − r_DRL,k.
    """
    rows = []
    for seed in seeds:
        base = run_dir / f"seed{seed}"
        ref_file = base / "tl_none" / "rewards_cells.npy"
        sim = sims.get(seed)
        if not ref_file.exists() or sim is None:
            continue
        ref = np.load(ref_file)
        roles = sim["roles"]
        d = np.asarray(sim["distance"])
        for variant, choice in (("tl_combined_most", "most"), ("tl_combined_least", "least")):
            f = base / variant / "rewards_cells.npy"
            if not f.exists():
                continue
            r = np.load(f)
            phases = json.loads((base / variant / "phases.json").read_text())
            train_n = sum(p != "evaluation" for p in phases)
            for k, target in enumerate(roles):
                src = sim[choice][target]
                rows.append({"seed": seed, "target": target, "variant": variant, "source": src,
                             "distance": float(d[roles.index(src), k]),
                             "gain_first": float((r[:window, k] - ref[:window, k]).mean()),
                             "gain_all": float((r[:train_n, k] - ref[:train_n, k]).mean())})
    return pd.DataFrame(rows)


def plot_gains(gains: pd.DataFrame, path: Path, window: int) -> None:
    """Paper Fig. 8: TL gain over DRL at equal steps against the source-target distance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=110, sharey=True)
    for ax, col, title in ((axes[0], "gain_first", f"first {window} fine-tuning steps"),
                           (axes[1], "gain_all", "all fine-tuning steps")):
        for variant, color in (("tl_combined_most", "tab:green"), ("tl_combined_least", "tab:red")):
            g = gains[gains["variant"] == variant] if len(gains) else gains
            if len(g):
                ax.scatter(g["distance"], g[col], s=14, color=color, alpha=0.7, label=METHOD_LABELS[variant])
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_xlabel("distance D_ik of the chosen source (VAE, eq. 7)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("TL gain: reward − DRL reward at equal steps")
    axes[0].legend(fontsize=7)
    fig.suptitle("TL gain against source-target distance (paper Fig. 8), one point per target cell and seed")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# -- the command ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m agents.experiments.slicing_tl", description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=DEFAULT_SCENARIO)
    ap.add_argument("--param", action="append", default=[], metavar="PATH=VALUE", help="scenario override (YAML value)")
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (default 5; 2 with --quick)")
    ap.add_argument("--seed0", type=int, default=1, help="first seed")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2 seeds of 30/60/20 DRL and 60/20 TL steps (about 3 min on one core)")
    ap.add_argument("--steps", default=None, metavar="E,T,V,FT,FV",
                    help="exploration, training, evaluation, TL fine-tuning and TL evaluation steps (default: paper)")
    ap.add_argument("--samples", type=int, default=None, help="default-action steps per world for the similarity")
    ap.add_argument("--vae-epochs", type=int, default=None)
    ap.add_argument("--instances", type=int, default=None, help="source transitions transferred per target")
    ap.add_argument("--world", default="continuous", choices=["continuous", "episodic"])
    ap.add_argument("--out", default=None, help="run folder (default runs/slicing-tl-TIME)")
    ap.add_argument("--resume", action="store_true", help="reuse the finished jobs of --out")
    ap.add_argument("--report-only", action="store_true",
                    help="run nothing: rebuild the outputs of --out from the jobs that have finished")
    ap.add_argument("--engine", default="local", choices=["local", "ray"])
    ap.add_argument("--workers", type=int, default=None,
                    help="local engine: worker processes (default: the CPU count; 0 = in this process)")
    ap.add_argument("--window", type=int, default=None, help="rolling-mean window of the reward curves")
    return ap


def _protocol(args: argparse.Namespace) -> Protocol:
    proto = Protocol.quick() if args.quick else Protocol()
    if args.steps:
        try:
            e, t, v, ft, fv = (int(x) for x in args.steps.split(","))
        except ValueError:
            raise ValueError(f"--steps needs five integers E,T,V,FT,FV, got {args.steps!r}") from None
        if min(e, t, v, ft, fv) < 0 or t + ft < 1 or v < 1 or fv < 1:
            raise ValueError(f"--steps {args.steps}: counts must be >= 0, evaluations >= 1")
        proto = dataclasses.replace(proto, exploration=e, training=t, evaluation=v, tl_training=ft, tl_evaluation=fv)
    for name in ("samples", "vae_epochs", "instances"):
        v = getattr(args, name)
        if v is not None:
            if v < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
            proto = dataclasses.replace(proto, **{name: v})
    return proto


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from agents.experiments.slicing_calibration import _resolve
    from agents.td3 import TD3Config, parse_params
    from bridge.envs import RanemuError

    try:
        proto = _protocol(args)
        overrides = parse_params(args.param)
        if args.seeds is None:
            args.seeds = 2 if args.quick else 5
        if args.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
        if not Path(_resolve(args.scenario)).exists():
            raise FileNotFoundError(f"scenario {args.scenario} not found")
        _env(args.scenario, overrides, args.world).close()  # a bad scenario or override fails here, in one line
    except (ValueError, FileNotFoundError, RanemuError) as exc:
        print(f"slicing_tl: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out or f"runs/slicing-tl-{datetime.now():%Y%m%d-%H%M%S}")
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.seed0, args.seed0 + args.seeds))
    # JSON round trip: job arguments must be plain JSON (tuples become lists; _td3_config turns them back).
    drl_cfg = json.loads(json.dumps(dataclasses.asdict(TD3Config(
        exploration_steps=proto.exploration, training_steps=proto.training, evaluation_steps=proto.evaluation))))
    tl_cfg = json.loads(json.dumps(dataclasses.asdict(TD3Config(
        exploration_steps=0, training_steps=proto.tl_training, evaluation_steps=proto.tl_evaluation))))
    drl_steps = proto.exploration + proto.training + proto.evaluation
    tl_steps = proto.tl_training + proto.tl_evaluation
    common = {"scenario": args.scenario, "overrides": overrides, "world": args.world}
    (out / "protocol.json").write_text(json.dumps({"protocol": dataclasses.asdict(proto), "seeds": seeds,
                                                   "world": args.world, "scenario": args.scenario,
                                                   "overrides": overrides, "target_world_offset": TARGET_WORLD_OFFSET},
                                                  indent=2))
    t0 = time.perf_counter()
    try:
        rows, errors, sims = _stages(args, out, seeds, proto, common, drl_cfg, tl_cfg, drl_steps, tl_steps)
    except RanemuError as exc:  # bridge.jobs.JobError: a run folder holding another grid, a bad engine, ...
        print(f"slicing_tl: {exc}", file=sys.stderr)
        return 2
    return _report(args, out, seeds, proto, rows, errors, sims, tl_steps, t0)


def _stages(args, out: Path, seeds: list[int], proto: Protocol, common: dict, drl_cfg: dict, tl_cfg: dict,
            drl_steps: int, tl_steps: int) -> tuple[dict, dict, dict]:
    # Stage 1: independent runs of every seed (one runner folder per seed and stage: each holds one grid).
    rows: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for s in seeds:
        d = out / f"seed{s}"
        tw = s + TARGET_WORLD_OFFSET
        jobs = [(f"seed{s}/baseline", f"{MODULE}:baseline_job",
                 {**common, "seed": s, "steps": drl_steps, "evaluation": proto.evaluation, "out_dir": str(d / "baseline")}),
                (f"seed{s}/baseline_tw", f"{MODULE}:baseline_job",
                 {**common, "seed": tw, "steps": tl_steps, "evaluation": proto.tl_evaluation,
                  "out_dir": str(d / "baseline_tw"), "method": "baseline_tw"}),
                (f"seed{s}/drl", f"{MODULE}:drl_job", {**common, "seed": s, "config": drl_cfg, "out_dir": str(d / "drl")}),
                (f"seed{s}/samples_source", f"{MODULE}:samples_job",
                 {**common, "seed": s, "steps": proto.samples, "out_file": str(d / "samples_source.npz")}),
                (f"seed{s}/samples_target", f"{MODULE}:samples_job",
                 {**common, "seed": tw, "steps": proto.samples, "out_file": str(d / "samples_target.npz")})]
        _run(args, jobs, d / "jobs" / "runs", f"seed {s}: baseline, DRL, samples", rows, errors)
    # Stage 2: similarity per seed (in this process; cached in the seed folders).
    sims: dict[int, dict] = {}
    for s in seeds:
        d = out / f"seed{s}"
        if (d / "samples_source.npz").exists() and (d / "samples_target.npz").exists():
            sims[s] = similarity_for_seed(d / "samples_source.npz", d / "samples_target.npz", proto.vae_epochs, s,
                                          d / "similarity")
            _write_distance(sims[s], d / "similarity")
    # Stage 3: transfer variants.
    for s in seeds:
        d = out / f"seed{s}"
        if s not in sims or not (d / "drl" / "checkpoints" / "meta.json").exists():
            continue
        jobs = []
        for variant, (method, choice) in VARIANTS.items():
            assignment = sims[s][choice] if choice else {}
            jobs.append((f"seed{s}/{variant}", f"{MODULE}:tl_job",
                         {**common, "seed": s, "world_seed": s + TARGET_WORLD_OFFSET, "method": method,
                          "source_dir": str(d / "drl" / "checkpoints") if choice else None, "assignment": assignment,
                          "config": tl_cfg, "instances": proto.instances, "out_dir": str(d / variant),
                          "variant": variant}))
        _run(args, jobs, d / "jobs" / "transfer", f"seed {s}: transfer", rows, errors)
    return rows, errors, sims


def _report(args, out: Path, seeds: list[int], proto: Protocol, rows: dict, errors: dict, sims: dict, tl_steps: int,
            t0: float) -> int:
    # Stage 4: aggregate.
    frames = [pd.read_parquet(p) for s in seeds for p in sorted((out / f"seed{s}").glob("*/kpis.parquet"))]
    kpis = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    summary: dict[str, Any] = {"seeds": seeds, "protocol": dataclasses.asdict(proto), "world": args.world,
                               "errors": {k: v.splitlines()[0] for k, v in errors.items()},
                               "wall_s_this_call": round(time.perf_counter() - t0, 1),
                               "job_wall_s": {k: v.get("wall_s") for k, v in rows.items() if isinstance(v, dict)}}
    if len(kpis):
        kpis.to_parquet(out / "kpis.parquet", index=False)
        metrics = {"phase": "evaluation", "methods": paper_metrics(kpis, "evaluation")}
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        plot_distributions(cell_samples(kpis[kpis["phase"] == "evaluation"]), out, "evaluation steps, all seeds")
        table = results_table(kpis)
        write_table(table, out)
        by_load(kpis).to_csv(out / "by_load.csv", index=False, float_format="%.4f")
        summary["table"] = table.to_dict(orient="records")
    window = args.window or max(5, min(100, tl_steps // 10))
    curves: dict[str, list[np.ndarray]] = {}
    for name in ("baseline", "drl", "baseline_tw", "tl_none", "tl_combined_most", "tl_combined_least"):
        curves[name] = [np.load(out / f"seed{s}" / name / "rewards.npy") for s in seeds
                        if (out / f"seed{s}" / name / "rewards.npy").exists()]
    plot_rewards(curves, proto.tl_training, out / "rewards.png", window)
    gains = tl_gains(out, seeds, sims, min(200, proto.tl_training))
    gains.to_csv(out / "tl_gains.csv", index=False, float_format="%.5f")
    plot_gains(gains, out / "tl_gain_vs_distance.png", min(200, proto.tl_training))
    if sims:
        first = sims[seeds[0]] if seeds[0] in sims else next(iter(sims.values()))
        _write_distance(first, out)
        if len(gains):
            summary["tl_gain"] = gains.groupby("variant")[["gain_first", "gain_all", "distance"]].mean().to_dict()
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    if (out / "table.md").exists():
        print((out / "table.md").read_text())
    for key, err in errors.items():
        print(f"slicing_tl: job {key} failed: {err.splitlines()[0]}", file=sys.stderr)
    print(f"run folder: {out}")
    return 1 if errors else 0


def _run(args: argparse.Namespace, jobs, run_dir: Path, description: str, rows: dict, errors: dict) -> None:
    """Run `jobs` in the runner folder `run_dir` (nothing with --report-only); collect rows and errors."""
    if args.report_only:
        return
    res = jobrunner.run(jobs, run_dir, resume=args.resume, engine=args.engine, workers=args.workers,
                        description=description)
    rows.update(res.rows)
    errors.update(res.errors)


def _write_distance(sim: dict, folder: Path) -> None:
    from agents.vae import write_similarity

    cells = [r.split("cell")[-1] for r in sim["roles"]]
    write_similarity({"names": [f"cell {c}" for c in cells], "distance": sim["distance"], "pairwise": sim["pairwise"]},
                     folder)


if __name__ == "__main__":
    sys.exit(main())
