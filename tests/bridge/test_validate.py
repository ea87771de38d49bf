"""`ranemu validate` runs every check `run` runs short of simulating, with the same located line;
refused starts leave no run folder, or one whose summary says it failed (issue 10, kinds 2 and 8)."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml

from bridge.cli import main
from emulator.config import read_raw, set_dotted

REPO = Path(__file__).resolve().parents[2]
SCEN = REPO / "scenarios"


def _copy(tmp_path, name, **edits):
    """The bundled scenario `name` with dotted-path edits (`ran.decision_period_s=...`), as a file."""
    data = read_raw(SCEN / name)
    for key, value in edits.items():
        set_dotted(data, key.replace("__", "."), value)
    f = tmp_path / name
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return f


CASES = {
    "decision period not whole TTIs": ("quickstart.yaml", {"ran__decision_period_s": 0.0015},
                                       "ran.decision_period_s: must be a whole number of TTIs (1 ms), got 0.0015 s"),
    "requirement for a missing cell": ("quickstart.yaml", {"ran__requirements": [{"cells": [99], "throughput_mbps": [1, 1], "delay_ms": [10, 10]}]},
                                       "ran.requirements[0].cells: cell 99 does not exist (3 cells)"),
    "MEC device within 1 m of a site": ("mec-dirs.yaml", {"mec__num_devices": 1, "mec__devices__positions": [[12.5, 25.5]]},
                                        "mec.devices.positions[0]: closer than ref_distance_m = 1 m to a site or server"),
    "MEC scenario without a server": ("mec-dirs.yaml", {"topology__mec__servers": "none"},
                                      "topology.mec.servers: the MEC scenario needs at least one MEC server"),
    "agent process for a missing role": ("quickstart.yaml", {"agents__processes": [{"roles": ["slice/cell7"], "command": ["x"]}]},
                                         "agents.processes[0].roles[0]: no control point 'slice/cell7' in this scenario"),
    "a world too large to allocate": ("slicing-12cell.yaml", {"ran__slices": [
        {"name": n, "traffic": {"kind": "full_buffer"}, "group_size": 100_000} for n in ("a", "b", "c", "d")]},
        "ran.slices[*].group_size: 12 cells × 400000 UEs per cell = 4,800,000 UEs"),
    "unknown in-process policy": ("quickstart.yaml", {"agents__policies": {"slice_partition": "nope"}},
                                  "agents.policies.slice_partition: unknown policy 'nope'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_refuses_what_run_refuses_with_the_same_line(tmp_path, capsys, case):
    name, edits, expect = CASES[case]
    f = _copy(tmp_path, name, **edits)
    assert main(["validate", str(f)]) == 1
    v_err = capsys.readouterr().err.strip()
    assert v_err.startswith(f"error: {f}: {expect}"), v_err
    out = tmp_path / "runs"
    assert main(["run", str(f), "--quiet", "--out", str(out)]) == 2
    r_err = capsys.readouterr().err.strip()
    assert r_err.removeprefix("ranemu: error: ") == v_err.removeprefix("error: ")
    assert not out.exists() or not any(out.iterdir())  # refused: no run folder


@pytest.mark.parametrize("body", ["", "# only a comment\n", "seed: 3\n"])
def test_empty_files_and_files_without_ran_or_mec_are_not_ok(tmp_path, capsys, body):
    f = tmp_path / "empty.yaml"
    f.write_text(body)
    assert main(["validate", str(f)]) == 1
    assert capsys.readouterr().err.strip() == f"error: {f}: has neither a `ran` nor a `mec` section: nothing to emulate"
    assert main(["run", str(f), "--quiet", "--out", str(tmp_path / "runs")]) == 2
    assert "nothing to emulate" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def _taken_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s, s.getsockname()[1]


@pytest.mark.parametrize("endpoint,expect", [
    ("tcp://0.0.0.0:5999", "refusing to bind tcp://0.0.0.0:5999: it is not loopback or ipc"),
    ("tcp://127.0.0.1", "must end with :PORT"),
    ("tcp://[::1:5555", "unbalanced brackets"),
    ("tcp://::1:5555", "write an IPv6 address in brackets"),
    ("udp://127.0.0.1:5", "transport 'udp' not supported"),
])
def test_refused_endpoints_are_found_by_validate_and_leave_no_run_folder(tmp_path, capsys, endpoint, expect):
    f = _copy(tmp_path, "quickstart.yaml", agents__endpoint=endpoint, agents__wait_agents=1)
    assert main(["validate", str(f)]) == 1
    assert expect in capsys.readouterr().err
    out = tmp_path / "runs"
    assert main(["run", str(f), "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert expect in err and len(err.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_a_port_in_use_is_named_as_such_and_leaves_no_run_folder(tmp_path, capsys):
    sock, port = _taken_port()
    try:
        f = _copy(tmp_path, "quickstart.yaml", agents__endpoint=f"tcp://127.0.0.1:{port}", agents__wait_agents=1)
        out = tmp_path / "runs"
        assert main(["run", str(f), "--quiet", "--out", str(out)]) == 2
    finally:
        sock.close()
    err = capsys.readouterr().err.strip()
    assert f"cannot bind tcp://127.0.0.1:{port}" in err and "is another run using it?" in err
    assert not out.exists() or not any(out.iterdir())


def test_agents_that_never_attach_leave_a_folder_marked_failed_without_a_report(tmp_path, capsys):
    f = _copy(tmp_path, "quickstart.yaml", agents__endpoint=f"ipc://{tmp_path}/c", agents__pub_endpoint=None,
              agents__wait_agents=1, agents__wait_timeout_s=0.3)
    out = tmp_path / "runs"
    assert main(["run", str(f), "--quiet", "--out", str(out)]) == 2
    assert "timed out after 0.3 s waiting for 1 agent(s)" in capsys.readouterr().err
    (run_dir,) = list(out.iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and "timed out" in summary["error"] and summary["simulated_s"] == 0
    assert not list(run_dir.rglob("*.png"))  # no report that would look like a finished zero-length run


def test_until_beyond_the_clock_resolution_is_refused_before_a_folder_is_made(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["run", str(SCEN / "quickstart.yaml"), "--until", "1e13", "--quiet", "--out", str(out)]) == 2
    assert "--until 1e+13: expected a simulated time in (0, 1e+09] s" in capsys.readouterr().err
    assert not out.exists()
