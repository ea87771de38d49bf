"""A test agent process: serves queue roles over the bridge with a pure policy (optionally slowly)."""
from __future__ import annotations

import argparse
import logging
import sys
import time

from bridge.client import run_agent
from tests.bridge.queue_policies import POLICIES


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--role", action="append", required=True)
    ap.add_argument("--policy", default="proportional", choices=sorted(POLICIES))
    ap.add_argument("--sleep", type=float, default=0.0, help="seconds to think per decision (a slow agent)")
    ap.add_argument("--name", default="test-agent")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    fn = POLICIES[args.policy]

    def policy(ind):
        if args.sleep:
            time.sleep(args.sleep)
        return fn(ind)

    roles = [r for arg in args.role for r in arg.split(",") if r]
    run_agent(args.endpoint, roles, policy, name=args.name, timeout_s=5.0, give_up_s=20.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
