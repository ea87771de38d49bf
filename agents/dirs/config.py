"""DIRS hyperparameters in one dataclass: the paper's values (§VI-A), and ours where it gives none."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class DirsConfig:
    """Every knob of DIRS (Jiang et al., papers/mec-dirs-ensemble-drl.txt, Algorithms 1–4).

    Values marked "paper" are §VI-A's; the others are ours (the paper does not state them) and the
    comment says why they were chosen.
    """

    # -- networks (paper §VI-A: a 4-layer fully-connected DNN of 30, 80, 60, 30 neurons) --------
    hidden: tuple[int, ...] = (30, 80, 60, 30)
    learning_rate: float = 1e-3  # ours: Adam's default (paper: Adam [27], no rate given)
    threads: int = 1  # torch CPU threads (one core; bit-repeatable runs)

    # -- imitation acceleration (Algorithm 2, eq. 15) ----------------------------------------------
    demonstrations: int = 256  # paper: "the demonstration data quantity is set to 256"
    pretrain_steps: int = 1000  # paper: T_D = 1000
    lambda1: float = 1e-4  # paper: λ1, weight of the L2 norm of θ in L_1 = L_D + λ1·||θ||
    demo_beta: float = 1.1  # ours: "small β" for demonstrations (paper V-B, V-D); 1 < β < 2
    demo_iterations: int = 300  # ours: a longer search for demonstrations than online (offline, no deadline)

    # -- online ensemble training (Algorithm 3, eqs. 16–18) ---------------------------------------
    steps: int = 3000  # paper: T_DRL = 3000
    buffer_size: int = 1024  # paper: replay buffer size
    batch_size: int = 256  # paper: minibatch size
    train_interval: int = 10  # paper: training interval δ = 10 (one minibatch update every δ steps)
    lambda2: float = 0.5  # paper: λ2, weight of the agent-data loss L_A in L = L_1 + λ2·L_A
    eps_agent: float = 0.08  # paper: ε_A, priority floor of agent-generated transitions
    eps_demo: float = 0.02  # paper: ε_D, priority floor of demonstrations
    priority_exponent: float = 0.6  # ours: the paper's exponent η is unstated; 0.6 is PER's α (Schaul et al. 2016)

    # -- Lévy flight search (Algorithm 4, eqs. 19–28) ----------------------------------------------
    beta: float = 1.5  # paper: β online
    threshold: float = 0.5  # paper: crossover threshold th
    iterations: int = 100  # ours: G_max; the paper's Fig. 7 runs to 100 iterations
    classic_scale: float = 1.0  # ours: η of the classic flight x(G) = x(G−1) + η·d (eq. 23)

    # -- ablations (paper Fig. 8) --------------------------------------------------------------------
    use_levy: bool = True  # False: ε-greedy refinement of the ensemble action instead (paper V-D's "traditional")
    use_imitation: bool = True  # False: random initial networks and no demonstrations in the buffer
    explore_eps: float = 0.1  # ours: per-device reassignment probability of the ε-greedy refinement

    def replace(self, **changes) -> "DirsConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DirsConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown DIRS config field(s): {', '.join(unknown)}")
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = tuple(int(x) for x in d["hidden"])
        return cls(**d)


# The quick variant (smoke runs, the test): the same algorithm at a token budget.
QUICK = DirsConfig(demonstrations=16, pretrain_steps=30, demo_iterations=40, steps=30, iterations=20,
                   batch_size=16, buffer_size=64)
