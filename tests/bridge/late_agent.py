"""A test agent process that answers some decisions late on purpose: a built-in slicing policy,
sleeping `--sleep` seconds before every `--late-every`-th answer (past a real-time deadline)."""
from __future__ import annotations

import argparse
import sys
import time

from agents.baseline import BaselinePolicy
from bridge.client import run_agent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--role", required=True)
    ap.add_argument("--policy", default="traffic_aware")
    ap.add_argument("--late-every", type=int, default=3)
    ap.add_argument("--sleep", type=float, default=0.15)
    ap.add_argument("--name", default="late-agent")
    args = ap.parse_args()
    base = BaselinePolicy(args.policy, {})
    seen = [0]

    def policy(ind):
        seen[0] += 1
        if seen[0] % args.late_every == 0:
            time.sleep(args.sleep)
        return base(ind)

    run_agent(args.endpoint, args.role.split(","), policy, name=args.name, timeout_s=5.0, give_up_s=20.0,
              on_welcome=base.on_welcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())
