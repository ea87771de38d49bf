"""Agent bridge figures: lockstep decision round trip against a bare pyzmq floor, real-time lateness,
and in-process vs remote env steps/s.

Run: `.venv/bin/python benchmarks/bench_bridge.py [--rounds N] [--rt-seconds S] [--skip-envs]`.

- Round trip: the wall time one lockstep decision blocks the clock (INDICATIONs out to every
  attached agent, every CONTROL back, decoded and validated), for 1 agent and 12 agent processes,
  over TCP loopback and ipc. The world is a bench world whose points carry the 12-cell slicing
  scenario's observation and info, so message sizes match the demo's.
- Floor: a bare pyzmq ROUTER in this process and DEALER processes exchanging msgpack messages of
  the same sizes (decode on both sides), nothing else: what any Python ZeroMQ bridge must pay.
- Real time: the 12-cell slicing scenario paced to the wall clock at 1 ms TTI with 12 baseline
  agent processes attached; lateness of the clock per TTI (emulation.LatenessMonitor).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
import numpy as np
import zmq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bridge import protocol as P  # noqa: E402
from bridge.server import AgentBridge  # noqa: E402
from emulator.config import load_scenario, scenario_from_dict  # noqa: E402
from emulator.control import BoxSpec, ControlPoint  # noqa: E402
from emulator.emulation import Emulation, Subsystem  # noqa: E402


# -- a bench world with the slicing scenario's message shapes -------------------------------------
def slicing_sample() -> tuple[np.ndarray, dict]:
    """One real observation and info of slice/cell0 (so the bench messages have the demo's size)."""
    sc = load_scenario(ROOT / "scenarios" / "slicing-12cell.yaml", {"duration": 2, "output.traces": False})
    emu = Emulation(sc)
    emu.run()
    ind = emu.control_points["slice/cell0"].indication(1, emu.env.now)
    emu.close(report=False)
    return ind.observation, ind.info


class EchoPoint(ControlPoint):
    kind = "bench"

    def __init__(self, name, obs, info, period):
        self._obs, self._info = obs, info
        super().__init__(name, BoxSpec(obs.shape, 0.0, 1e12), BoxSpec((4,), 0.0, 1.0), period)

    def observe(self):
        return self._obs

    def reward(self):
        return 0.0

    def default_action(self):
        return np.full(4, 0.25)

    def info(self):
        return self._info


class BenchWorld(Subsystem):
    """`k` points deciding every `period` s and nothing else: the bridge is all there is to time."""

    name = "bench"

    def __init__(self, emu, k, obs, info, period):
        self.emu, self.period = emu, period
        self.points = [EchoPoint(f"bench/p{i}", obs, info, period) for i in range(k)]

    def start(self):
        for p in self.points:
            self.emu.add_control_point(p)
        self.emu.env.process(self._run())

    def _run(self):
        step = 0
        while True:
            yield self.emu.env.timeout(self.period)
            yield self.emu.decision([p.indication(step, self.emu.env.now) for p in self.points])
            step += 1


AGENT = ("import sys, numpy as np\n"
         "from bridge.client import run_agent\n"
         "a = np.full(4, 0.25)\n"
         "run_agent(sys.argv[1], sys.argv[2].split(','), lambda ind: a, name='bench', give_up_s=30)\n")


def spawn(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=ROOT)


def reap(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def endpoint_for(transport: str, tmp: str, name: str) -> str:
    return f"ipc://{tmp}/{name}.sock" if transport == "ipc" else "tcp://127.0.0.1:*"


def ranemu_round_trip(n_agents: int, transport: str, rounds: int, obs, info, tmp: str) -> dict:
    period = 1e-3
    sc = scenario_from_dict({
        "name": "bench", "duration": (rounds + 200) * period, "topology": {"layout": {"kind": "hex", "num_sites": 1}},
        "output": {"traces": False},
        "agents": {"endpoint": endpoint_for(transport, tmp, f"r{n_agents}"), "pub_endpoint": None,
                   "deadline_ms": 5000.0, "heartbeat_s": 1.0},
    })
    emu = Emulation(sc, subsystems=[lambda e: BenchWorld(e, n_agents, obs, info, period)])
    bridge = AgentBridge(emu, sc.agents)
    procs = []
    try:
        bridge.start()
        procs = [spawn(AGENT, bridge.endpoint, f"bench/p{i}") for i in range(n_agents)]
        bridge.wait_for_agents(n_agents, 120)
        emu.run(200 * period)  # warm-up
        bridge._round = type(bridge._round)()
        bridge._rtt = type(bridge._rtt)()
        emu.run()
        st = bridge.stats()
    finally:
        bridge.close()
        reap(procs)
        emu.close(report=False)
    assert st["fallbacks"] == 0, st
    return st["round_ms"]


FLOOR_PEER = ("import sys, zmq, msgpack\n"
              "ctx = zmq.Context(); s = ctx.socket(zmq.DEALER); s.connect(sys.argv[1])\n"
              "reply = msgpack.unpackb(bytes.fromhex(sys.argv[2]))\n"
              "s.send(b'ready')\n"
              "while True:\n"
              "    m = msgpack.unpackb(s.recv())\n"
              "    if m == 'stop': break\n"
              "    s.send(msgpack.packb(reply))\n")


def floor_round_trip(n_peers: int, transport: str, rounds: int, request: bytes, reply: bytes, tmp: str) -> dict:
    ctx = zmq.Context()
    r = ctx.socket(zmq.ROUTER)
    r.setsockopt(zmq.LINGER, 0)
    r.bind(endpoint_for(transport, tmp, f"f{n_peers}"))
    ep = r.getsockopt_string(zmq.LAST_ENDPOINT)
    procs = [spawn(FLOOR_PEER, ep, reply.hex()) for _ in range(n_peers)]
    samples = []
    try:
        ids = []
        while len(ids) < n_peers:
            if not r.poll(60000):
                raise RuntimeError("floor peers did not start")
            ids.append(r.recv_multipart()[0])
        obj = msgpack.unpackb(request)
        for i in range(rounds + 200):
            t0 = time.perf_counter()
            for ident in ids:
                r.send_multipart([ident, msgpack.packb(obj)])
            for _ in ids:
                if not r.poll(5000):
                    raise RuntimeError("floor peer stopped answering")
                msgpack.unpackb(r.recv_multipart()[1])
            if i >= 200:
                samples.append((time.perf_counter() - t0) * 1e3)
        for ident in ids:
            r.send_multipart([ident, msgpack.packb("stop")])
    finally:
        reap(procs)
        r.close()
        ctx.term()
    s = np.asarray(samples)
    return {"n": len(s), "p50_ms": float(np.percentile(s, 50)), "p99_ms": float(np.percentile(s, 99))}


def realtime_lateness(seconds: float, tmp: str) -> dict:
    procs = [{"roles": [f"slice/cell{k}"], "command": ["{python}", "-m", "agents.baseline", "--endpoint", "{endpoint}",
                                                       "--role", "{role}", "--policy", "traffic_aware"]}
             for k in range(12)]
    sc = load_scenario(ROOT / "scenarios" / "slicing-12cell.yaml", {
        "duration": seconds, "clock.mode": "realtime", "clock.tti_ms": 1.0, "output.traces": False,
        "agents.endpoint": f"ipc://{tmp}/rt.sock", "agents.pub_endpoint": None, "agents.processes": procs})
    emu = Emulation(sc)
    bridge = AgentBridge(emu, sc.agents)
    try:
        bridge.start()
        bridge.wait_for_agents(12, 120)
        emu.run()
        st = bridge.stats()
    finally:
        bridge.close()
        emu.close(report=False)
    late = np.asarray(emu.lateness.samples)
    return {"lateness": emu.lateness.stats(), "late_1ms": float(np.mean(late > 1e-3)) if late.size else float("nan"),
            "answered": st["answered"], "fallbacks": st["fallbacks"], "stale": st["stale"], "rtt_ms": st["rtt_ms"]}


def policy_cost_us(obs: np.ndarray, info: dict) -> float:
    """Warm per-call cost of the traffic_aware baseline on one cell's indication (best of 5)."""
    import timeit

    from bridge.client import Indication
    from bridge.policies import lookup

    policy = lookup("slice_partition", "traffic_aware")
    ind = Indication("slice/cell0", 1, 1.0, obs, 0.0, False, False, info, 0.0, "slice_partition")
    return min(timeit.repeat(lambda: policy(ind), number=2000, repeat=5)) / 2000 * 1e6


# -- steps/s of in-process vs remote env (the envs helper's measurement) -----------------------------
def env_rates(steps: int) -> list[dict]:
    """In-process vs remote env steps/s and their ratio: bench_envs.measure_env_rates."""
    from bench_envs import measure_env_rates

    return measure_env_rates(steps)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3000, help="timed lockstep rounds per case")
    ap.add_argument("--rt-seconds", type=float, default=60.0, help="real-time run length (wall s)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats per case (medians)")
    ap.add_argument("--env-steps", type=int, default=300)
    ap.add_argument("--skip-envs", action="store_true")
    ap.add_argument("--skip-realtime", action="store_true")
    ap.add_argument("--skip-lockstep", action="store_true")
    args = ap.parse_args(argv)

    obs, info = slicing_sample()
    request = P.pack(P.MsgType.INDICATION, seq=1, deadline_ms=1000.0, items=[{
        "role": "slice/cell0", "step": 1, "time": 1.0, "observation": obs, "reward": 0.0, "terminated": False,
        "truncated": False, "info": info}])
    reply = P.pack(P.MsgType.CONTROL, step=1, actions={"slice/cell0": np.full(4, 0.25)})
    print(f"message sizes: INDICATION {len(request)} B, CONTROL {len(reply)} B (12-cell slicing, one cell)")
    print(f"the bench agents answer a constant action (the floor's peers compute nothing either); the baseline "
          f"policy traffic_aware would add {policy_cost_us(obs, info):.1f} us per decision (warm, in a loop)")
    print(f"lockstep decision round trip, p50 / p99 ms over {args.rounds} rounds, median (and best p50) of "
          f"{args.repeats} interleaved repeats (ranemu = time the clock waits per decision)")
    print(f"{'agents':>6} {'transport':>9} {'ranemu p50':>11} {'p99':>7} {'floor p50':>10} {'p99':>7} {'ratio p50':>10} "
          f"{'best: ranemu':>13} {'floor':>7} {'ratio':>6}")
    with tempfile.TemporaryDirectory(prefix="ranemu-bench-") as tmp:
        for n in ((1, 12) if not args.skip_lockstep else ()):
            for transport in ("tcp", "ipc"):
                # Interleaved repeats, medians: load from other processes on a shared machine
                # then falls on both sides of the ratio.
                floors, ourss = [], []
                for _ in range(args.repeats):
                    floors.append(floor_round_trip(n, transport, args.rounds, request, reply, tmp))
                    ourss.append(ranemu_round_trip(n, transport, args.rounds, obs, info, tmp))
                floor = {k: float(np.median([f[k] for f in floors])) for k in ("p50_ms", "p99_ms")}
                ours = {k: float(np.median([o[k] for o in ourss])) for k in ("p50_ms", "p99_ms")}
                best_ours, best_floor = min(o["p50_ms"] for o in ourss), min(f["p50_ms"] for f in floors)
                print(f"{n:>6} {transport:>9} {ours['p50_ms']:>11.3f} {ours['p99_ms']:>7.3f} "
                      f"{floor['p50_ms']:>10.3f} {floor['p99_ms']:>7.3f} {ours['p50_ms'] / floor['p50_ms']:>10.2f} "
                      f"{best_ours:>13.3f} {best_floor:>7.3f} {best_ours / best_floor:>6.2f}", flush=True)
        if not args.skip_realtime:
            rt = realtime_lateness(args.rt_seconds, tmp)
            lat = rt["lateness"]
            print(f"real time, 12-cell slicing at 1 ms TTI for {args.rt_seconds:g} s with 12 agent processes: "
                  f"lateness p50 {lat['p50_ms']:.3f} ms, p99 {lat['p99_ms']:.3f} ms, max {lat['max_ms']:.3f} ms "
                  f"over {lat['ticks']} ticks ({rt['late_1ms'] * 100:.2f} % over 1 ms); decisions answered {rt['answered']}, fallbacks {rt['fallbacks']}, "
                  f"stale {rt['stale']}; agent RTT p50 {rt['rtt_ms'].get('p50_ms', float('nan')):.3f} ms")
    if not args.skip_envs:
        print("env steps/s (ratio = remote / in-process):")
        for r in env_rates(args.env_steps):
            print(f"  {r['case']:<15} in-process {r['in_process_steps_per_s']:.1f}/s, remote ipc "
                  f"{r['remote_ipc_steps_per_s']:.1f}/s ({r['remote_ipc_ratio']:.2f}), remote tcp "
                  f"{r['remote_tcp_steps_per_s']:.1f}/s ({r['remote_tcp_ratio']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
