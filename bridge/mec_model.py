"""The MEC objective as agents see it: the emulator's own cost model, rebuilt from an indication's info.

Agents never import the emulator; this module hands them the very functions the emulator and its
baselines use (emulator.mec.objective / baselines), so a search's fitness and the emulator's
realised Φ come from one model and cannot disagree.
"""
from __future__ import annotations

from emulator.mec.baselines import cost_model
from emulator.mec.objective import CostModel, evaluate, exhaustive_optimum, max_vote, search_space, trim_to_capacity

__all__ = ["CostModel", "cost_model", "evaluate", "exhaustive_optimum", "max_vote", "search_space",
           "trim_to_capacity"]
