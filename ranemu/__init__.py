"""`import ranemu`: the RL-facing names in one place, and the Gymnasium ids registered.

The code lives in the top-level packages topology, emulator, bridge and agents (the project's
layout); this module only re-exports what a training script needs:

    import gymnasium as gym, ranemu
    env = gym.make("ranemu/SliceCell-v0", render_mode="rgb_array")   # or "ranemu:ranemu/SliceCell-v0"
"""
from importlib import metadata as _metadata

from bridge.bundled import bundled_scenario
from bridge.envs import (GYM_IDS, cell_env, offloading_env, offloading_parallel_env, register_envs,
                         slicing_parallel_env)
from bridge.wrappers import SafeAgentIds

try:
    __version__ = _metadata.version("ranemu")
except _metadata.PackageNotFoundError:  # a source tree on sys.path without an install
    __version__ = "unknown"

register_envs()

__all__ = ["GYM_IDS", "SafeAgentIds", "bundled_scenario", "cell_env", "offloading_env", "offloading_parallel_env",
           "slicing_parallel_env", "__version__"]
