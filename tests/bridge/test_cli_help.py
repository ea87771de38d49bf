"""The CLI explains itself: --version, defaults and an example in every subcommand's --help,
--deadline-ms, bundled scenarios from any folder, summary tables whole when piped."""
from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from bridge import cli


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"ranemu {metadata.version('ranemu')}"


@pytest.mark.parametrize("command", sorted(cli.build_parser()._subparsers._group_actions[0].choices))
def test_every_subcommand_help_has_an_example_and_shows_defaults(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert "example:" in out and f"ranemu {command}" in out.split("example:")[1]
    parser = cli.build_parser()._subparsers._group_actions[0].choices[command]
    for action in parser._actions:
        shown = action.default is not None and action.default is not False and action.help not in (None, "==SUPPRESS==")
        if shown and action.option_strings and action.dest != "help":
            assert f"default: {action.default}" in " ".join(out.split()) or "default:" in (action.help or ""), \
                f"{command} {action.option_strings[0]}: default {action.default!r} not shown"


def test_deadline_ms_sets_the_lockstep_deadline(monkeypatch, tmp_path):
    seen = {}

    def fake_run(sc, **kw):
        seen["deadline"] = sc.agents.deadline_ms
        raise KeyboardInterrupt  # stop before anything runs

    monkeypatch.setattr("bridge.runner.run_scenario", fake_run)
    monkeypatch.chdir(tmp_path)  # the bundled scenario resolves from any folder
    assert cli.main(["run", "scenarios/quickstart.yaml", "--deadline-ms", "60000", "--quiet"]) == 130
    assert seen["deadline"] == 60000.0


def test_deadline_ms_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "scenarios/quickstart.yaml", "--deadline-ms", "0"])
    assert exit_.value.code == 2 and "--deadline-ms" in capsys.readouterr().err


def test_summary_tables_are_not_cut_when_piped(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bridge.cli", "run", "scenarios/quickstart.yaml", "--until", "2",
                          "--quiet", "--out", str(tmp_path), "--param", "output.report=false"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "throughput_bps" in out.stdout and "…" not in out.stdout
    assert out.stderr == ""  # model warnings go to the run log, not the terminal
