"""`ranemu experiment NAME [ARGS...]`: experiments found through the ranemu.experiments entry points."""
from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys

import pytest

from bridge.cli import EXPERIMENTS_GROUP, main
from tests.bridge import job_fns


@pytest.fixture
def registered(monkeypatch):
    """Two entry points in the group, as an installed package would register them."""
    eps = md.EntryPoints([
        md.EntryPoint(name="tiny", value="tests.bridge.job_fns:tiny_experiment", group=EXPERIMENTS_GROUP),
        md.EntryPoint(name="broken", value="tests.bridge.no_such_module:main", group=EXPERIMENTS_GROUP),
    ])
    real = md.entry_points

    def entry_points(**params):
        return eps if params.get("group") == EXPERIMENTS_GROUP else real(**params)

    monkeypatch.setattr(md, "entry_points", entry_points)
    job_fns.SEEN_ARGV.clear()


def test_an_experiment_gets_the_arguments_after_its_name_and_its_exit_code_is_ours(registered):
    assert main(["experiment", "tiny", "--seeds", "3", "--engine", "ray", "-x"]) == 5
    assert main(["experiment", "tiny"]) == 0
    assert main(["experiment", "tiny", "--help", "--list"]) == 2  # the experiment's own options
    assert job_fns.SEEN_ARGV == [["--seeds", "3", "--engine", "ray", "-x"], [], ["--help", "--list"]]


def test_unknown_broken_and_listed_experiments(registered, capsys):
    assert main(["experiment", "nope"]) == 2
    err = capsys.readouterr().err
    assert err == "ranemu: error: unknown experiment 'nope'; known: broken, tiny\n"
    assert main(["experiment", "broken"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ranemu: error: experiment 'broken' (tests.bridge.no_such_module:main) cannot be loaded")
    assert err.count("\n") == 1
    assert main(["experiment"]) == 2
    assert capsys.readouterr().err == ("ranemu: error: name an experiment: ranemu experiment NAME [ARGS...]; "
                                       "known: broken, tiny\n")
    assert main(["experiment", "--list"]) == 0
    assert capsys.readouterr().out.splitlines() == ["broken  (tests.bridge.no_such_module:main)",
                                                    "tiny  (tests.bridge.job_fns:tiny_experiment)"]
    assert job_fns.SEEN_ARGV == []


def test_the_cli_and_the_job_runner_do_not_import_agents():
    code = ("import sys; from bridge.cli import main; import bridge.jobs, bridge.sweep; "
            "bridge.jobs.code_digest(); bridge.jobs.code_runtime_env(); "
            "main(['experiment', '--list']); "
            "sys.exit(1 if any(m == 'agents' or m.startswith('agents.') for m in sys.modules) else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
