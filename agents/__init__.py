"""Agents that attach to ranemu: built-in baselines as processes, and learning agents (torch lives here)."""
