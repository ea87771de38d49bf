"""The RAN inside an Emulation: radio coupling, masks, control points, traces, episodes, reports, config."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emulator.config import load_scenario
from emulator.emulation import Emulation
from emulator.errors import ActionError, ConfigError
from emulator.ran import baselines
from emulator.ran.scheduler import ue_bits_per_prb

from .helpers import BASE, merge, scenario


def _run(sc, until=None):
    emu = Emulation(sc, run_dir=None)
    emu.run(until=until)
    return emu, emu.subsystems[0]


def test_single_ue_alone_gets_the_rate_the_mapping_predicts():
    sc = scenario(
        topology={"layout": {"kind": "explicit", "sites": [{"x_m": 0.0, "y_m": 0.0, "sectors": 1}]},
                  "area": {"x_m": [-300, 300], "y_m": [-300, 300]}},
        ran={"slices": [{"name": "a", "group_size": 1, "traffic": {"kind": "full_buffer"}}],
             "mobility": {"model": "static"}},
        duration=1.0,
    )
    emu, ran = _run(sc)
    rm = ran.radio
    bits = float(rm.bits_per_prb(rm.sinr(np.zeros(1)))[0])  # alone: no interferer, SINR = SNR
    expected = 100 * bits / 1e-3
    thr = ran.kpis["throughput_bps"][0, 0]
    assert thr == pytest.approx(expected, rel=0.01)
    assert ran.kpis["load"][0, 0] == pytest.approx(1.0)


def test_kernel_rate_matches_the_radio_model_for_any_activity():
    emu, ran = _run(scenario(), until=0.2)
    rm, eng = ran.radio, ran.engine
    rng = np.random.default_rng(0)
    lm = rm.link
    for _ in range(5):
        act = rng.random(ran.C)
        want = rm.bits_per_prb(rm.sinr(act))
        got = [ue_bits_per_prb(rm.rx_w, u, int(rm.serving[u]), act, rm.noise_w, lm.mapping, lm.alpha, lm.sinr_min,
                               lm.max_efficiency, lm.cqi_thresholds, lm.cqi_efficiency, eng.bits_scale)
               for u in range(ran.U)]
        assert np.allclose(got, want, rtol=1e-9, atol=0)


def test_mask_scales_the_active_ue_count():
    sc = scenario(ran={"slices": [
        {"name": "a", "group_size": 8, "mask": {"kind": "constant", "value": 0.5}},
        {"name": "b", "group_size": 8, "mask": {"kind": "constant", "value": 0.25}},
    ]})
    emu, ran = _run(sc)
    df = ran.trace_frame()
    per_step = df.groupby(["step", "slice_name"]).active_users.sum().unstack()
    # 3 cells × 8 UEs per group: 12 and 6 active UEs in total, whichever cell serves them
    assert np.allclose(per_step["a"], 12.0)
    assert np.allclose(per_step["b"], 6.0)
    assert ran.active.sum() == 18


def test_a_rising_mask_activates_more_ues_over_time():
    sc = scenario(duration=4.0, ran={"mask_step_s": 1.0, "slices": [
        {"name": "a", "group_size": 10, "mask": {"kind": "daily", "cycle_s": 8, "low": 0.0, "high": 1.0,
                                                 "peak_at": 0.5, "noise_std": 0.0, "sharpness": 1.0}}]})
    emu, ran = _run(sc)
    counts = ran.trace_frame().groupby("time").active_users.sum()
    # mask steps at 0, 1, 2, 3 s: (1 + cos(2π(t/8 − ½)))/2 = 0, 0.146, 0.5, 0.854 → 0, 1, 5, 9 of 10 UEs
    # per cell (× 3 cells); two 0.5 s decision periods per mask step, each row = the period ending then
    assert counts.tolist() == pytest.approx([0.0, 0.0, 3.0, 3.0, 15.0, 15.0, 27.0, 27.0])


def test_invalid_actions_are_rejected_and_the_previous_stays():
    emu = Emulation(scenario(), run_dir=None, pull=True)
    ran = emu.subsystems[0]
    inds = emu.advance()
    name = inds[0].point
    good = np.array([0.7, 0.3])
    assert emu.submit({ind.point: good for ind in inds}) == {}
    budgets = ran.engine.budgets[0].copy()
    assert budgets.tolist() == [70, 30]
    emu.advance()
    bad = {
        "wrong length": np.array([0.5, 0.25, 0.25]),
        "negative": np.array([1.2, -0.2]),
        "NaN": np.array([np.nan, 1.0]),
        "not summing to 1": np.array([0.5, 0.4]),
    }
    cp = emu.control_points[name]
    for label, action in bad.items():
        with pytest.raises(ActionError):
            cp.apply(action)
        assert cp.current_action.tolist() == good.tolist(), label
        assert ran.engine.budgets[0].tolist() == budgets.tolist(), label
    errors = emu.submit({name: np.array([0.5, 0.4])})
    assert "sum to 0.9" in errors[name] and "1e-06" in errors[name]
    # within tolerance is accepted
    cp.apply(np.array([0.6, 0.4 + 5e-7]))
    assert ran.engine.budgets[0].tolist() == [60, 40]


def test_control_point_observation_info_and_baselines():
    emu, ran = _run(scenario(), until=1.0)
    cp = emu.control_points["slice/cell1"]
    assert cp.kind == "slice_partition"
    ind = cp.indication(0, 1.0)
    assert ind.observation.shape == (8,) and ind.observation.dtype == np.float32
    assert ((ind.observation >= 0) & (ind.observation <= 10)).all()
    info = ind.info
    assert set(info) >= {"throughput_bps", "delay_s", "load", "active_users", "demand_bps", "neighbour_load",
                         "req_throughput_bps", "req_delay_s", "shares", "satisfaction"}
    # observation = [φ/φ*, load, users/group, neighbour load] per slice
    thr_rel = np.nan_to_num(np.array(info["throughput_bps"]) / np.array(info["req_throughput_bps"]))
    assert ind.observation[:2] == pytest.approx(np.clip(thr_rel, 0, 10), rel=1e-6)
    assert ind.observation[2:4] == pytest.approx(info["load"], rel=1e-6)
    assert ind.observation[4:6] == pytest.approx(np.array(info["active_users"]) / 4, rel=1e-6)
    assert ind.reward == pytest.approx(min(info["satisfaction"]))
    # traffic-aware: shares ∝ demand (cell 1's active UEs × their slices' mean rates)
    d = np.array(info["demand_bps"])
    assert d.sum() > 0
    assert baselines.traffic_aware(ind) == pytest.approx(d / d.sum())
    assert baselines.equal(ind).tolist() == [0.5, 0.5]
    assert cp.default_action().tolist() == [0.5, 0.5]
    assert set(cp.policies) >= {"default", "equal", "traffic_aware"}


def test_traffic_aware_demand_matches_active_ues_per_cell():
    emu, ran = _run(scenario(), until=0.5)
    rates = np.array([500 * 8 * 100, 200 * 8 * 200])  # per-UE mean rate of slices a and b
    total = sum(np.array(emu.control_points[f"slice/cell{k}"].info()["demand_bps"]) for k in range(ran.C))
    per_slice_active = np.bincount(ran.ue_slice[ran.active], minlength=2)
    assert total == pytest.approx(per_slice_active * rates)


def test_trace_rows_and_reward_column():
    emu, ran = _run(scenario())
    df = ran.trace_frame()
    assert len(df) == 6 * 3 * 2  # 6 periods × 3 cells × 2 slices
    assert df.time.unique().tolist() == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    for _, g in df.groupby(["step", "cell"]):
        assert g.reward.iloc[0] == pytest.approx(g.satisfaction.min())
        assert g.share.sum() == pytest.approx(1.0)
        assert g.budget_prbs.sum() == 100
    assert (df.load >= 0).all() and (df.groupby(["step", "cell"]).load.sum() <= 1 + 1e-9).all()


def test_identical_seeds_give_identical_traces_and_different_seeds_differ():
    def frame(seed):
        emu, ran = _run(scenario(seed=seed, duration=2.0))
        return ran.trace_frame().reset_index(drop=True)

    a, b, c = frame(11), frame(11), frame(12)
    pd.testing.assert_frame_equal(a, b)
    assert not a[["throughput_bps", "delay_s", "load"]].equals(c[["throughput_bps", "delay_s", "load"]])


def test_episodes_truncate_and_reset_queues_while_the_world_runs_on():
    sc = scenario(episode_steps=2, duration=2.0)
    emu = Emulation(sc, run_dir=None, pull=True)
    ran = emu.subsystems[0]
    seen = []
    while True:
        inds = emu.advance()
        if not inds:
            break
        seen.append((inds[0].step, inds[0].truncated, emu.env.now))
        emu.submit({})
    assert [(s, tr) for s, tr, _ in seen] == [(0, False), (1, True), (2, False), (3, True)]
    assert emu.episode == 2
    assert seen[-1][2] == pytest.approx(2.0)
    df = ran.trace_frame()
    assert df.groupby("step").episode.first().tolist() == [0, 0, 1, 1]


def test_reset_episode_empties_queues_and_accumulators():
    emu, ran = _run(scenario(ran={"slices": [{"name": "a", "group_size": 6,
                                               "traffic": {"kind": "poisson", "packet_bytes": 5000, "rate_pps": 2000}}]}),
                    until=0.3)
    assert ran.engine.q_len.sum() > 0
    ran.reset_episode()
    assert ran.engine.q_len.sum() == 0 and ran.engine.backlog.sum() == 0
    assert all((a == 0).all() for a in ran.engine.acc.values())
    assert ran.engine.nb.sum() == 0


def test_report_and_parquet_in_the_run_folder(tmp_path):
    emu = Emulation(scenario(), run_dir=tmp_path)
    emu.run()
    files = emu.close()
    names = {f.name for f in files}
    assert names == {"ran_masks.png", "ran_throughput.png", "ran_delay.png", "ran_satisfaction.png",
                     "ran_load.png", "ran_reward.png"}
    assert all(f.stat().st_size > 5000 for f in files)
    df = pd.read_parquet(tmp_path / "traces" / "ran.parquet")
    assert len(df) == 36
    summary = emu.summary()["ran"]
    assert [r["slice"] for r in summary["slices"]] == ["a", "b"]
    assert 0 <= summary["mean_reward"] <= 1


def test_pf_and_work_conserving_run_in_the_emulation():
    sc = scenario(ran={"scheduler": {"discipline": "pf", "sharing": "work_conserving"}})
    emu, ran = _run(sc)
    df = ran.trace_frame()
    assert (df.packets > 0).any()
    assert df.groupby(["step", "cell"]).load.sum().max() <= 1 + 1e-9


@pytest.mark.parametrize("over, path, message", [
    ({"ran": {"decision_period_s": 0.0015}}, "ran.decision_period_s", "whole number of TTIs"),
    ({"ran": {"mobility": {"period_s": 0.00025}}}, "ran.mobility.period_s", "whole number of TTIs"),
    ({"ran": {"requirements": [{"cells": [7], "throughput_mbps": [1, 1], "delay_ms": [1, 1]}]}},
     "ran.requirements[0].cells", "cell 7 does not exist"),
])
def test_config_errors_are_located(over, path, message):
    with pytest.raises(ConfigError, match=message) as exc:
        Emulation(scenario(**over), run_dir=None)
    assert exc.value.path == path


@pytest.mark.parametrize("over, message", [
    ({"requirements": [{"cells": [0], "throughput_mbps": [1], "delay_ms": [1, 1]}]}, "needs 2 throughput_mbps"),
    ({"slices": [{"name": "a"}, {"name": "a"}]}, "unique"),
    ({"mobility": {"speed_mps": [2, 1]}}, "speed_mps"),
    ({"slices": [{"name": "a", "traffic": {"kind": "poisson", "packet_bytes": -1, "rate_pps": 1}}]}, "greater than 0"),
])
def test_bad_ran_sections_fail_validation_with_a_path(over, message):
    from emulator.config import scenario_from_dict

    with pytest.raises(ConfigError, match=message) as exc:
        scenario_from_dict(merge(BASE, {"ran": over}), "test.yaml")
    assert exc.value.path.startswith("ran")  # section-level checks name the entry in the message


def test_the_12_cell_scenario_loads_with_the_paper_settings():
    sc = load_scenario("scenarios/slicing-12cell.yaml")
    assert sc.topology.layout.num_sites == 4 and sc.radio.carrier_ghz == 2.6 and sc.radio.num_prbs == 100
    assert sc.radio.pathloss == "winner_c2" and sc.agents.policies == {"slice_partition": "traffic_aware"}
    thr, dly = sc.ran.requirement_arrays(12)
    assert thr[0].tolist() == [4e6, 3e6, 2e6, 1e6] and dly[6].tolist() == pytest.approx([3e-3, 2e-3, 1e-3, 1e-3])
    assert thr[3].tolist() == [2.5e6, 2e6, 1.5e6, 1e6] and dly[11].tolist() == pytest.approx([1e-3] * 4)
    assert [s.group_size for s in sc.ran.slices] == [32] * 4
