"""Baseline agent process: serves control points over the bridge with a built-in policy.

    python -m agents.baseline --endpoint tcp://127.0.0.1:5555 --role slice/cell3 --policy traffic_aware
    python -m agents.baseline --role slice/cell0,slice/cell1 --role mec/server0 \\
        --policy slice_partition=equal --policy offloading=greedy

It computes exactly what the in-process baseline computes (same function, same inputs), so a run
driven by these processes reproduces the in-process trace bit for bit.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from bridge.client import ENV_ENDPOINT, ENV_ROLES, BridgeError, Rejected, Welcome, curve_from_env, run_agent
from bridge.policies import CATALOGUE, lookup, names

log = logging.getLogger("ranemu.agent")


def parse_policies(values: list[str]) -> tuple[str | None, dict[str, str]]:
    """`NAME` (for every kind that has it) and/or `KIND=NAME` entries."""
    default, per_kind = None, {}
    for v in values:
        if "=" in v:
            kind, name = v.split("=", 1)
            per_kind[kind.strip()] = name.strip()
        else:
            default = v.strip()
    return default, per_kind


class BaselinePolicy:
    """Resolves one built-in policy per control-point kind once the WELCOME names the kinds."""

    def __init__(self, default: str | None, per_kind: dict[str, str]):
        self.default, self.per_kind = default, per_kind
        self.by_kind: dict[str, object] = {}

    def on_welcome(self, welcome: Welcome) -> None:
        for role, spec in welcome.roles.items():
            if spec.kind in self.by_kind:
                continue
            name = self.per_kind.get(spec.kind, self.default)
            if name is None:
                raise BridgeError(f"no --policy for {role} (kind {spec.kind}); choices: {', '.join(names(spec.kind))}")
            try:
                self.by_kind[spec.kind] = lookup(spec.kind, name)
            except KeyError as exc:
                raise BridgeError(f"{role}: {exc.args[0]}") from None

    def __call__(self, ind):
        return self.by_kind[ind.kind](ind)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m agents.baseline", description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", default=os.environ.get(ENV_ENDPOINT, "tcp://127.0.0.1:5555"))
    ap.add_argument("--role", action="append", default=[], metavar="ROLE[,ROLE...]",
                    help="control point(s) to serve, e.g. slice/cell3 (repeatable; default: $RANEMU_ROLES)")
    ap.add_argument("--policy", action="append", required=True, metavar="NAME|KIND=NAME",
                    help="baseline: " + "; ".join(f"{k}: equal|traffic_aware" if k == "slice_partition"
                                                   else f"{k}: local|random|greedy" for k in CATALOGUE))
    ap.add_argument("--name", default=None, help="agent name shown by the emulator")
    ap.add_argument("--server-key", help="CURVE: the emulator's public key file")
    ap.add_argument("--client-key", help="CURVE: this agent's secret key file (ranemu keys)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the emulator's answers")
    ap.add_argument("--give-up", type=float, default=60.0, help="seconds without a session before exiting")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    roles = [r.strip() for arg in (args.role or [os.environ.get(ENV_ROLES, "")]) for r in arg.split(",") if r.strip()]
    if not roles:
        ap.error("at least one --role is needed")
    curve = curve_from_env()
    if args.server_key or args.client_key:
        if not (args.server_key and args.client_key):
            ap.error("CURVE needs both --server-key and --client-key")
        curve = {"server_public_key": args.server_key, "client_keys": args.client_key}
    policy = BaselinePolicy(*parse_policies(args.policy))
    used = sorted(({policy.default} | set(policy.per_kind.values())) - {None})
    name = args.name or "baseline-" + "+".join(used)
    try:
        n = run_agent(args.endpoint, roles, policy, name=name, curve=curve, timeout_s=args.timeout,
                      give_up_s=args.give_up, on_welcome=policy.on_welcome)
    except Rejected as exc:
        print(f"agents.baseline: refused by the emulator: {exc}", file=sys.stderr)
        return 2
    except (BridgeError, TimeoutError) as exc:
        print(f"agents.baseline: {exc}", file=sys.stderr)
        return 1
    log.info("served %d decisions; the emulator said BYE", n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
