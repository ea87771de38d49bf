"""Emulation core: push and pull decision rounds, fallbacks, invalid actions, episodes, seeds, real time."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emulator.config import scenario_from_dict
from emulator.emulation import Emulation
from emulator.errors import RanemuError
from tests.emulator.world import build


def scenario(**kw):
    data = {"name": "tank", "seed": 7, "duration": 2.0, "topology": {"layout": {"kind": "hex", "num_sites": 1}}}
    data.update(kw)
    return scenario_from_dict(data)


def run_push(sc, policy="proportional"):
    sc.agents.policies = {"valve": policy}
    emu = Emulation(sc, subsystems=[build])
    emu.run()
    df = emu.traces.table("tank").to_pandas()
    emu.close()
    return emu, df


def test_same_seed_same_trace_different_seed_differs():
    _, a = run_push(scenario())
    _, b = run_push(scenario())
    _, c = run_push(scenario(seed=8))
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 20  # 2 s / 0.1 s decision period
    assert not np.array_equal(a["level"].to_numpy(), c["level"].to_numpy())


def test_pull_mode_with_same_policy_equals_push_mode():
    _, pushed = run_push(scenario())
    emu = Emulation(scenario(), pull=True, subsystems=[build])
    cp = emu.control_points["tank/valve"]
    steps = 0
    while inds := emu.advance():
        emu.submit({ind.point: cp.policies["proportional"](ind) for ind in inds})
        steps += 1
    pulled = emu.traces.table("tank").to_pandas()
    assert steps == 20
    pd.testing.assert_frame_equal(pushed, pulled)


def test_policy_changes_the_world():
    _, closed = run_push(scenario(), "default")  # valve shut: the tank only fills
    _, prop = run_push(scenario(), "proportional")
    assert closed["level"].iloc[-1] > prop["level"].iloc[-1]
    assert np.all(np.diff(closed["level"].to_numpy()) >= 0)


def test_invalid_action_rejected_previous_stays_and_counted():
    emu = Emulation(scenario(), pull=True, subsystems=[build])
    cp = emu.control_points["tank/valve"]
    emu.advance()
    assert emu.submit({"tank/valve": [0.7]}) == {}
    for bad, reason in (([0.25], "forbidden"), ([float("nan")], "NaN"), ([1.5], "outside"),
                        ([0.1, 0.2], "shape"), ("open", "not numeric")):
        emu.advance()
        errors = emu.submit({"tank/valve": bad})
        assert reason in errors["tank/valve"]
        assert cp.current_action[0] == 0.7
    assert cp.counters["invalid"] == 5 and cp.counters["applied"] == 1


@pytest.mark.parametrize("mode,expected", [("hold", 0.7), ("default", 0.0)])
def test_missing_action_falls_back(mode, expected):
    sc = scenario()
    sc.agents.fallback = mode
    emu = Emulation(sc, pull=True, subsystems=[build])
    cp = emu.control_points["tank/valve"]
    emu.advance()
    emu.submit({"tank/valve": [0.7]})
    emu.advance()
    emu.submit({})
    assert cp.current_action[0] == expected
    assert cp.counters["fallbacks"] == 1


def test_episodes_truncate_and_reset_inside_the_run():
    emu = Emulation(scenario(episode_steps=5), pull=True, subsystems=[build])
    flags = []
    while inds := emu.advance():
        flags.append(inds[0].truncated)
        emu.submit({})
    assert flags == ([False] * 4 + [True]) * 4
    assert emu.episode == 4 and emu.subsystems[0].resets == 4


def test_telemetry_and_step_listeners_see_every_period():
    emu = Emulation(scenario(), subsystems=[build])
    seen, steps = [], []
    emu.telemetry.append(lambda topic, payload: seen.append((topic, payload["step"])))
    emu.step_listeners.append(lambda step, now: steps.append(step))
    emu.run(1.0)
    assert seen == [("tank.kpi", s) for s in range(10)]
    assert steps == list(range(10))


def test_scenario_without_a_world_is_a_clear_error():
    with pytest.raises(RanemuError, match="neither a `ran` nor a `mec`"):
        Emulation(scenario())


def test_realtime_mode_reports_lateness():
    sc = scenario(duration=0.2, clock={"mode": "realtime", "realtime_factor": 4.0, "tti_ms": 10})
    emu = Emulation(sc, subsystems=[build])
    emu.run()
    stats = emu.summary()["realtime_lateness"]
    assert stats["ticks"] == 20
    assert 0 <= stats["p50_ms"] <= stats["p99_ms"] <= stats["max_ms"]
    assert emu.env.now == pytest.approx(0.2)


def test_run_folder_holds_config_traces_and_log(tmp_path):
    from emulator.config import load_scenario
    from emulator.emulation import make_run_dir

    sc = scenario()
    run_dir = make_run_dir(sc, tmp_path)
    emu = Emulation(sc, run_dir, subsystems=[build])
    emu.run(0.5)
    emu.close()
    assert run_dir.name.startswith("tank-")
    again = load_scenario(run_dir / "config.yaml")
    assert again == sc
    df = pd.read_parquet(run_dir / "traces" / "tank.parquet")
    assert list(df["step"]) == [0, 1, 2, 3, 4]
    assert (run_dir / "run.log").exists()
    assert make_run_dir(sc, tmp_path) != run_dir  # two runs in one second do not collide


def test_reset_restarts_the_world_in_place_and_reseeds():
    emu = Emulation(scenario(), pull=True, subsystems=[build])
    first = emu.advance()[0].observation[0]
    emu.submit({})
    emu.reset(seed=7)
    assert emu.env.now == 0.0 and emu.episode == 1
    assert emu.advance()[0].observation[0] == first  # same seed, same first observation
    emu.submit({})
    emu.reset(seed=99)
    assert emu.advance()[0].observation[0] != first and emu.scenario.seed == 99


def test_decider_can_request_a_reset_mid_run():
    from emulator.emulation import PolicyDecider, ResetRequested

    class ResetOnce(PolicyDecider):
        done = False

        def decide(self, emu, indications):
            if indications[0].step == 3 and not self.done:
                self.done = True
                raise ResetRequested(seed=7)
            return super().decide(emu, indications)

    emu = Emulation(scenario(), decider=ResetOnce({"valve": "proportional"}), subsystems=[build])
    emu.run(1.0)
    df = emu.traces.table("tank").to_pandas()
    # steps 0..3 of the first world, then a full second world from t = 0 (same seed → same start)
    assert list(df["step"]) == [0, 1, 2, 3] + list(range(10))
    assert df["level"].iloc[0] == df["level"].iloc[4]
    assert emu.episode == 1 and emu.env.now == pytest.approx(1.0)


def test_unknown_policy_is_a_located_config_error_a_kind_not_present_is_not():
    from emulator.errors import ConfigError

    sc = scenario()
    sc.agents.policies = {"valve": "bogus"}
    with pytest.raises(ConfigError, match=r"agents.policies.valve: unknown policy 'bogus'; known: default, half, proportional"):
        Emulation(sc, subsystems=[build])
    sc.agents.policies = {"valve": "half", "pump": "anything"}  # no pump here: another mode's setting
    Emulation(sc, subsystems=[build]).run(0.2)


def test_user_errors_survive_being_rebuilt_from_their_args():
    # SimPy re-raises a process's exception by rebuilding it from .args; so does pickling.
    import pickle

    from emulator.errors import ActionError, ConfigError

    for exc in (ConfigError("f.yaml", "a.b", "bad"), ActionError("slice/cell0", "shape")):
        again = type(exc)(*exc.args)
        assert str(again) == str(exc) and str(pickle.loads(pickle.dumps(exc))) == str(exc)
    assert str(ConfigError("f.yaml", "", "file not found")) == "f.yaml: file not found"


def test_traces_off_writes_no_parquet_but_keeps_rows_for_reports(tmp_path):
    from emulator.emulation import make_run_dir

    sc = scenario(output={"traces": False})
    run_dir = make_run_dir(sc, tmp_path)
    emu = Emulation(sc, run_dir, subsystems=[build])
    emu.run(0.5)
    emu.close()
    assert not (run_dir / "traces").exists()
    assert len(emu.traces.table("tank").to_pandas()) == 5
