"""The `ranemu` command line: run, validate, topology, radio, sweep, experiment, keys, demo."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

from emulator.errors import ConfigError, RanemuError

REPO_ROOT = Path(__file__).resolve().parents[1]


def _scenario_path(name: str) -> Path:
    """A bundled scenario: scenarios/<name> in the source tree, else the installed copy (bridge.bundled)."""
    from bridge.bundled import bundled_scenario

    return bundled_scenario(name)


def _number(convert: type, positive: bool):
    """An argparse type: `convert`(text), required > 0 (`positive`) or >= 0, and finite (NaN fails
    both bounds; `inf` would be a run that never ends)."""
    noun = "an integer" if convert is int else "a number"
    bound = "positive" if positive else "non-negative"

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not (value > 0 if positive else value >= 0):
            raise argparse.ArgumentTypeError(f"expected a {bound} {noun.split()[-1]}, got {text!r}")
        if value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected a finite {noun.split()[-1]}, got {text!r}")
        return value

    return parse


_positive_float = _number(float, positive=True)
_nonneg_float = _number(float, positive=False)
_positive_int = _number(int, positive=True)
_nonneg_int = _number(int, positive=False)


def _load(path: str, args: argparse.Namespace, extra: dict[str, Any] | None = None):
    from emulator.config import load_scenario, parse_override

    overrides = dict(parse_override(p) for p in getattr(args, "param", None) or [])
    if getattr(args, "seed", None) is not None:
        overrides["seed"] = args.seed
    overrides.update(extra or {})
    from bridge.bundled import resolve_scenario

    return load_scenario(resolve_scenario(path), overrides)


# -- subcommands --------------------------------------------------------------------------------
def cmd_validate(args) -> int:
    from bridge.runner import check_scenario
    from emulator.config import load_scenario

    bad = 0
    for path in args.files:
        try:
            sc = load_scenario(path)
            check_scenario(sc, path)  # every check `run` makes before its clock starts
        except RanemuError as exc:
            bad += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        parts = [k for k in ("ran", "mec") if getattr(sc, k) is not None]
        print(f"ok: {path} (scenario {sc.name!r}, seed {sc.seed}, {sc.duration:g} s, {'+'.join(parts)})")
    return 1 if bad else 0


def cmd_topology(args) -> int:
    from topology.build import build_topology
    from topology.plot import plot_topology
    from topology.query import summary

    sc = _load(args.file, args)
    graph = build_topology(sc.topology)
    info = summary(graph)
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    out = Path(args.out) if args.out else Path(sc.output.dir) / f"{sc.name}-topology.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_topology(graph, out)
    print(f"map: {out}")
    return 0


SUBSYSTEM_SECTIONS = ("ran", "mec")
PIPED_WIDTH = 200  # columns of the summary tables when stdout is not a terminal


def _print_summary(result) -> None:
    """Per-subsystem tables (lists of row dicts in the subsystem's summary), then one-line facts."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        # Piped or redirected: rich would assume 80 columns and cut the tables' cells ("through…").
        console = Console(width=PIPED_WIDTH)
    summary = result.summary
    for section in SUBSYSTEM_SECTIONS:
        body = summary.get(section)
        if not isinstance(body, dict):
            continue
        for key, value in body.items():
            if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
                table = Table(title=f"{section}: {key}")
                for col in value[0]:
                    table.add_column(str(col), justify="right")
                for row in value:
                    table.add_row(*(_fmt(row.get(c)) for c in value[0]))
                console.print(table)
        facts = {k: v for k, v in body.items() if not isinstance(v, (dict, list))}
        if facts:
            console.print(f"{section}: " + " ".join(f"{k}={_fmt(v)}" for k, v in facts.items()))
    scalars = {k: v for k, v in summary.items() if not isinstance(v, (dict, list))}
    console.print(" ".join(f"{k}={_fmt(v)}" for k, v in scalars.items()))
    bridge = summary.get("bridge")
    if isinstance(bridge, dict):
        facts = {k: v for k, v in bridge.items() if not isinstance(v, (dict, list))}
        console.print("bridge: " + " ".join(f"{k}={_fmt(v)}" for k, v in facts.items()))
        for key in ("rtt_ms", "round_ms"):
            if isinstance(bridge.get(key), dict):
                console.print(f"bridge {key}: " + " ".join(f"{k}={_fmt(v)}" for k, v in bridge[key].items()))
    if "realtime_lateness" in summary:
        console.print("real-time clock lateness: " + " ".join(f"{k}={_fmt(v)}" for k, v in summary["realtime_lateness"].items()))
    state = "interrupted — partial results kept" if result.interrupted else "done"
    console.print(f"{state}: {result.run_dir}")
    for f in result.files:
        console.print(f"  report: {f}")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def cmd_run(args) -> int:
    from bridge.runner import run_scenario
    from emulator.config import located

    extra = {}
    if args.realtime:
        extra["clock.mode"] = "realtime"
    if args.deadline_ms is not None:
        extra["agents.deadline_ms"] = args.deadline_ms
    sc = _load(args.file, args, extra)
    with located(args.file):  # build errors name the file, as `validate` prints them
        if args.dashboard is None:
            result = run_scenario(sc, out_base=args.out, until=args.until, wait_agents=args.wait_agents,
                                  progress=not args.quiet)
        else:
            result = _run_with_dashboard(sc, args, extra)
    _print_summary(result)
    return 130 if result.interrupted else 0


def _run_with_dashboard(sc, args, extra: dict[str, Any]):
    """`run --dashboard`: a dashboard child process on the run's telemetry (an ipc one if none)."""
    import tempfile

    from bridge.dashboard import DashboardProcess, parse_bind
    from bridge.runner import run_scenario
    from bridge.server import is_local_endpoint

    parse_bind(args.dashboard, "--dashboard")  # a bad HOST:PORT is one line now, not a child that fails to start
    with tempfile.TemporaryDirectory(prefix="ranemu-kpi-") as tmp:
        if sc.agents.pub_endpoint is None:
            sc = _load(args.file, args, {**extra, "agents.pub_endpoint": f"ipc://{tmp}/kpi"})
        pub = sc.agents.pub_endpoint
        if pub.endswith(":*") or "://*" in pub or not is_local_endpoint(pub):
            raise RanemuError(f"--dashboard needs a fixed telemetry endpoint on this host, not {pub}: set "
                              "agents.pub_endpoint, or run `ranemu dashboard` beside the run")
        env, allow = None, ()
        if sc.agents.curve is not None:
            # The PUB socket is a CURVE server too: the dashboard child gets a key pair of its own,
            # accepted for this run only (as supervised agent processes do).
            import zmq

            from bridge.keys import load_secret
            from bridge.server import ENV_CURVE_PUBLIC, ENV_CURVE_SECRET, ENV_CURVE_SERVER

            public, secret = zmq.curve_keypair()
            env = {ENV_CURVE_SERVER: load_secret(sc.agents.curve.server_secret_key)[0].decode(),
                   ENV_CURVE_PUBLIC: public.decode(), ENV_CURVE_SECRET: secret.decode()}
            allow = (public,)
        dash = DashboardProcess(pub, args.dashboard, env=env)
        try:
            print(f"dashboard: {dash.url}", flush=True)
            return run_scenario(sc, out_base=args.out, until=args.until, wait_agents=args.wait_agents,
                                progress=not args.quiet, telemetry=True, allow_keys=allow)
        finally:
            dash.close()


DEMO_HORIZON_S = 30.0


def demo_overrides(ipc_dir: Path, n_cells: int = 12, policy: str = "traffic_aware") -> dict[str, Any]:
    """The demo = the 12-cell scenario with one baseline agent process per cell over ZeroMQ."""
    command = ["{python}", "-m", "agents.baseline", "--endpoint", "{endpoint}", "--role", "{role}",
               "--policy", policy, "--name", "baseline-{role}"]
    return {
        "agents.processes": [{"roles": [f"slice/cell{k}"], "command": command} for k in range(n_cells)],
        "agents.wait_agents": n_cells,
        # ipc endpoints in a private folder: no port to collide with, nothing reachable off-host
        "agents.endpoint": f"ipc://{ipc_dir}/control",
        "agents.pub_endpoint": f"ipc://{ipc_dir}/kpi",
        "duration": DEMO_HORIZON_S,
    }


def cmd_demo(args) -> int:
    """The main job: 12-cell slicing scenario, 12 baseline agent processes attached over ZeroMQ."""
    import tempfile

    from bridge.runner import run_scenario

    with tempfile.TemporaryDirectory(prefix="ranemu-demo-") as ipc_dir:
        sc = _load(str(_scenario_path("slicing-12cell.yaml")), args, demo_overrides(Path(ipc_dir)))
        result = run_scenario(sc, out_base=args.out, until=args.until, progress=True)
    _print_summary(result)
    return 130 if result.interrupted else 0


def cmd_radio(args) -> int:
    from emulator.radio.survey import survey, write_survey

    if args.calibration:
        return _radio_calibration(args)
    if not args.file:
        raise RanemuError("ranemu radio needs a scenario FILE or --calibration NAME")
    sc = _load(args.file, args)
    out = Path(args.out) if args.out else Path(sc.output.dir) / f"{sc.name}-radio"
    try:
        result = survey(sc, n_ues=args.ues, min_distance_m=args.min_distance)
    except ValueError as exc:  # e.g. no room for the UEs that far from every site
        raise RanemuError(f"radio survey of {args.file}: {exc}") from None
    files = write_survey(result, out)
    for f in files:
        print(f"wrote {f}")
    return 0


def _radio_calibration(args) -> int:
    from emulator.radio.calibrate import run_calibration, summary_lines, write_calibration

    out = Path(args.out) if args.out else Path("runs") / f"calibration-{args.calibration}"
    if args.file or args.param:
        raise RanemuError("--calibration runs its own Table 7.8-1 scenario: give no FILE and no --param")
    result = run_calibration(args.calibration, drops=args.drops, seed=args.seed)
    for line in summary_lines(result):
        print(line)
    for f in write_calibration(result, out):
        print(f"wrote {f}")
    return 0


def cmd_sweep(args) -> int:
    from bridge.jobs import engine_options
    from bridge.sweep import default_out, run_sweep

    policies = [p.strip() for p in args.policies.split(",") if p.strip()] if args.policies else []
    if args.resume and not args.out:
        raise ConfigError("--resume", "", "needs --out DIR, the folder of the sweep to finish")
    options = engine_options(args)
    out = Path(args.out) if args.out else default_out(args.file)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    # SIGTERM (a container's stop) and SIGINT (also when a shell started us in the background with
    # SIGINT ignored) end the sweep the same way: finished rows kept, the resume command printed.
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = run_sweep(args.file, params=args.param or [], policies=policies, out_dir=out,
                           until=args.until, seeds=args.seeds, **options)
    except KeyboardInterrupt:
        print(f"ranemu: sweep interrupted; finished runs are kept in {out}; "
              f"rerun the same command with --resume --out {out} to finish it", file=sys.stderr)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"sweep written to {result.out}")
    if result.failed:
        print(f"ranemu: sweep: {result.results.summary_line()}", file=sys.stderr)
        return 1
    return 0


EXPERIMENTS_GROUP = "ranemu.experiments"


def experiment_entry_points() -> dict[str, Any]:
    """name → entry point of the `ranemu.experiments` group (packages such as `agents` register there)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=EXPERIMENTS_GROUP)}


def cmd_experiment(args) -> int:
    """Run a registered experiment: its `main(argv) -> int` gets the remaining arguments."""
    found = experiment_entry_points()
    known = ", ".join(sorted(found)) or "none installed"
    if args.list:
        if not found:
            print(f"no experiments installed (packages register them in the {EXPERIMENTS_GROUP} entry-point group)")
        for name in sorted(found):
            print(f"{name}  ({found[name].value})")
        return 0
    if not args.name:
        raise RanemuError(f"name an experiment: ranemu experiment NAME [ARGS...]; known: {known}")
    if args.name not in found:
        raise RanemuError(f"unknown experiment {args.name!r}; known: {known}")
    try:
        main_fn = found[args.name].load()
    except (ImportError, AttributeError) as exc:
        raise RanemuError(f"experiment {args.name!r} ({found[args.name].value}) cannot be loaded: {exc}") from None
    return int(main_fn(list(args.args)) or 0)


def cmd_keys(args) -> int:
    from bridge.keys import generate_keypair

    public, secret = generate_keypair(Path(args.dir), args.name)
    print(f"public key: {public}\nsecret key: {secret} (keep it private)")
    return 0


def cmd_replay(args) -> int:
    """Replay a run folder unpaced with its recorded decisions; compare every trace bit for bit."""
    from bridge.replay import replay

    result = replay(args.run_dir, point=args.point, policy=args.policy, agent=args.agent,
                    from_step=args.from_step, out=args.out, progress=not args.quiet)
    checked = ", ".join(f"{name} ({rows} rows)" for name, rows in result.traces.items())
    if result.out_dir is not None:
        print(f"what-if run: {result.out_dir}")
        print(f"{result.substituted} substituted from t={result.first_substituted_time} s; "
              + (f"first departure from the recording: {result.divergence}" if result.divergence
                 else "the traces did not depart from the recording"))
        return 0
    if result.divergence is not None:
        print(f"replay diverges: {result.divergence}")
        return 1
    print(f"replay identical bit for bit: {checked} ({result.wall_s:.2f} s)")
    return 0


def cmd_dashboard(args) -> int:
    from bridge.dashboard import run_dashboard

    return run_dashboard(args.pub, bind=args.bind, token=args.token, tls_cert=args.tls_cert, tls_key=args.tls_key,
                         server_key=args.server_key, client_key=args.client_key,
                         exit_with_parent=args.exit_with_parent)


def build_parser() -> argparse.ArgumentParser:
    from bridge.jobs import add_engine_arguments

    p = argparse.ArgumentParser(prog="ranemu", description=__doc__.split(":")[0], formatter_class=HelpFormatter,
                                epilog="example: ranemu run scenarios/slicing-12cell.yaml --until 10\n"
                                       "bundled scenarios: " + ", ".join(_bundled_names()))
    p.add_argument("-v", "--verbose", action="store_true", help="log to the terminal too")
    p.add_argument("--version", action="version", version=f"ranemu {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_overrides(sp):
        sp.add_argument("--seed", type=_nonneg_int, help="override the scenario seed")
        sp.add_argument("--param", action="append", metavar="PATH=VALUE",
                        help="override a scenario field, e.g. ran.slices[0].throughput_mbps=3 (repeatable)")

    sp = sub.add_parser("run", help="run a scenario")
    sp.add_argument("file")
    sp.add_argument("--until", type=_positive_float, help="simulated seconds (default: scenario duration)")
    sp.add_argument("--out", help="base folder for the run folder (default: scenario output.dir)")
    sp.add_argument("--wait-agents", type=_nonneg_int, default=0, metavar="N",
                    help="wait for N agents started by hand before the clock starts")
    sp.add_argument("--realtime", action="store_true", help="pace the clock to the wall clock")
    sp.add_argument("--deadline-ms", type=_positive_float, metavar="MS",
                    help="how long the emulator waits for an agent's answer in lockstep mode "
                         "(agents.deadline_ms; default: the scenario's, 1000 ms); remote training "
                         "that pauses for gradient updates wants a generous one, e.g. 60000")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.add_argument("--dashboard", nargs="?", const="127.0.0.1:8050", metavar="HOST:PORT",
                    help="serve the live dashboard while the run goes (default 127.0.0.1:8050; port 0: any free)")
    with_overrides(sp)
    sp.set_defaults(func=cmd_run)

    sp = sub.add_parser("demo", help="the main job on the default scenario with agents attached")
    sp.add_argument("--until", type=_positive_float, help=f"simulated seconds (default: {DEMO_HORIZON_S:g})")
    sp.add_argument("--out", help="base folder for the run folder (default: scenario output.dir)")
    with_overrides(sp)
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser("validate", help="check scenario files without running them")
    sp.add_argument("files", nargs="+")
    sp.set_defaults(func=cmd_validate)

    sp = sub.add_parser("topology", help="print a topology summary and write a PNG map")
    sp.add_argument("file")
    sp.add_argument("--out", help="PNG path")
    with_overrides(sp)
    sp.set_defaults(func=cmd_topology)

    sp = sub.add_parser("radio", help="radio survey: coupling loss / SIR / SINR CDFs and coverage map")
    sp.add_argument("file", nargs="?")
    sp.add_argument("--calibration", choices=["38901-uma-6ghz", "38901-umi-6ghz"],
                    help="TR 38.901 phase-1 calibration vs the published 3GPP curves (R1-165974) instead of a survey")
    sp.add_argument("--drops", type=_positive_int, default=40, help="calibration drops (570 UEs each; drop k uses seed + k)")
    sp.add_argument("--ues", type=_positive_int, default=10000, help="UEs dropped for the CDFs")
    sp.add_argument("--min-distance", type=_nonneg_float, default=35.0, metavar="M",
                    help="minimum 2-D UE–site distance in m (38.901 drop rule)")
    sp.add_argument("--out", help="output folder")
    with_overrides(sp)
    sp.set_defaults(func=cmd_radio)

    sp = sub.add_parser("sweep", help="run a parameter grid × policies and plot the objective")
    sp.add_argument("file")
    sp.add_argument("--param", action="append", metavar="PATH=RANGE", help="e.g. mec.num_devices=10:100:10")
    sp.add_argument("--policies", help="comma-separated policy names, e.g. local,random,greedy")
    sp.add_argument("--seeds", type=_positive_int, default=1, help="seeds per grid point")
    sp.add_argument("--until", type=_positive_float)
    sp.add_argument("--out", help="run folder (default: a new one under the scenario's output.dir)")
    add_engine_arguments(sp)
    sp.set_defaults(func=cmd_sweep)

    sp = sub.add_parser("experiment", help="run a registered experiment (paper reproductions), e.g. slicing-tl",
                        description="Run an experiment registered in the ranemu.experiments entry-point group; "
                                    "arguments after NAME go to the experiment (see: ranemu experiment NAME --help).")
    sp.add_argument("name", nargs="?", metavar="NAME")
    sp.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    sp.add_argument("--list", action="store_true", help="list the installed experiments")
    sp.set_defaults(func=cmd_experiment)

    sp = sub.add_parser("replay", help="re-run a run folder with its recorded decisions; check traces bit for bit")
    sp.add_argument("run_dir", metavar="RUN_DIR")
    sp.add_argument("--point", help="control point whose decisions a substitute makes (writes a new run folder)")
    sp.add_argument("--policy", help="substitute: a built-in policy of that point, e.g. equal")
    sp.add_argument("--agent", metavar="COMMAND",
                    help="substitute: an agent command line ({python}, {endpoint}, {role} are filled in)")
    sp.add_argument("--from-step", type=_nonneg_int, default=0, metavar="N",
                    help="substitute from this decision step of the point on")
    sp.add_argument("--out", help="base folder for the what-if run folder (default: beside RUN_DIR)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_replay)

    sp = sub.add_parser("dashboard", help="live web page of a run's telemetry (KPIs, agents, RTT, lateness)")
    sp.add_argument("--pub", default="tcp://127.0.0.1:5556", metavar="ENDPOINT",
                    help="the run's telemetry endpoint, agents.pub_endpoint")
    sp.add_argument("--bind", default="127.0.0.1:8050", metavar="HOST:PORT",
                    help="where to serve the page; not loopback: needs --tls-cert/--tls-key")
    sp.add_argument("--token", help="required token (?token= in the URL); made and printed when not loopback")
    sp.add_argument("--tls-cert", help="TLS certificate file (PEM)")
    sp.add_argument("--tls-key", help="TLS private key file (PEM)")
    sp.add_argument("--server-key", help="CURVE: the emulator's public key file (telemetry off this host)")
    sp.add_argument("--client-key", help="CURVE: this client's secret key file (ranemu keys)")
    sp.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    sp.set_defaults(func=cmd_dashboard)

    sp = sub.add_parser("keys", help="make a CURVE key pair for authenticated (non-loopback) agents")
    sp.add_argument("dir")
    sp.add_argument("--name", default="server", help="file name stem of the key pair")
    sp.set_defaults(func=cmd_keys)
    _document(sub)
    return p


# -- help: defaults and an example for every subcommand ------------------------------------------
EXAMPLES = {
    "run": "ranemu run scenarios/slicing-12cell.yaml --until 30 --param ran.decision_period_s=0.5\n"
           "  ranemu run scenarios/slicing-12cell.yaml --wait-agents 1 --deadline-ms 60000   # remote training",
    "demo": "ranemu demo --until 10",
    "validate": "ranemu validate scenarios/*.yaml",
    "topology": "ranemu topology scenarios/slicing-12cell.yaml --out map.png",
    "radio": "ranemu radio scenarios/slicing-12cell.yaml --ues 2000 --out radio/\n"
             "  ranemu radio --calibration 38901-uma-6ghz --drops 40   # TR 38.901 calibration vs 3GPP",
    "sweep": "ranemu sweep scenarios/mec-dirs.yaml --param mec.num_devices=10:50:20 --policies local,greedy --seeds 2",
    "experiment": "ranemu experiment --list\n  ranemu experiment mec-dirs --quick",
    "replay": "ranemu replay runs/slicing-12cell-20261130-090000\n"
              "  ranemu replay RUN_DIR --point slice/cell3 --policy traffic_aware   # what if cell 3 had the baseline",
    "dashboard": "ranemu dashboard --pub tcp://127.0.0.1:5556 --bind 127.0.0.1:8050\n"
                 "  ranemu run scenarios/slicing-12cell.yaml --realtime --dashboard   # or from the run itself",
    "keys": "ranemu keys ~/.ranemu/keys --name server",
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default when it has one worth showing (not None/False) and keeps the
    epilog's line breaks (examples)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or "default:" in text or any(action.default is v for v in (None, False, argparse.SUPPRESS)):
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{text} (default: %(default)s)".strip()
        return text


def _document(sub: argparse._SubParsersAction) -> None:
    """Every subcommand: the defaults formatter and an `example:` epilog (EXAMPLES)."""
    for name, sp in sub.choices.items():
        sp.formatter_class = HelpFormatter
        if name in EXAMPLES and not sp.epilog:
            sp.epilog = "example:\n  " + EXAMPLES[name]


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("ranemu")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _bundled_names() -> list[str]:
    from bridge.bundled import bundled_names

    return bundled_names()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (RanemuError, OSError) as exc:  # OSError: e.g. an output path that cannot be written
        print(f"ranemu: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ranemu: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
