"""The job runner on Ray: a two-node cluster on loopback started by this module (one for all tests).

Same CSV as the local engine, a killed worker retried to the same result, Ctrl-C in the driver
cancels the running tasks and a resume finishes the folder with each job once.
"""
from __future__ import annotations

import _thread
import json
import os
import threading
import time

import pandas as pd
import pytest
import yaml

import ray
import ray._private.ray_constants as ray_constants
from bridge.cli import main
from bridge.jobs import Job, run_jobs
from bridge.sweep import build_jobs, run_point
from ray.cluster_utils import Cluster
from tests.bridge import job_fns
from tests.bridge.test_sweep import SCENARIO

FN = "tests.bridge.job_fns:"


@pytest.fixture(scope="module")
def cluster():
    """Head (1 CPU) + one more node (1 CPU), both on 127.0.0.1; shut down (every Ray process
    reaped) even when a test fails. Ray maps 127.0.0.1 to the host's address on Linux unless its
    cluster switch is off; off, everything binds and connects on loopback."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # for the Ray processes started below
        mp.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)  # for this (driver) process
        mp.delenv("RAY_ADDRESS", raising=False)
        if ray.is_initialized():  # another module's connection would take our jobs elsewhere
            ray.shutdown()
        c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False,
                                                          "node_ip_address": "127.0.0.1"})
        try:
            c.add_node(num_cpus=1, node_ip_address="127.0.0.1")
            c.wait_for_nodes()
            yield c
        finally:
            if ray.is_initialized():
                ray.shutdown()
            c.shutdown()


@pytest.fixture(scope="module")
def connected(cluster):
    """This process connected to the cluster once (as an experiment that calls ray.init itself):
    run_jobs then uses that connection and leaves it open."""
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster
    ray.shutdown()


def test_a_sweep_gives_the_same_csv_locally_and_on_two_ray_nodes_failures_included(cluster, tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    args = ["sweep", str(path), "--param", "mec.num_devices=3,20", "--policies", "greedy,optimal", "--seeds", "2",
            "--until", "10"]
    assert main(args + ["--workers", "0", "--out", str(tmp_path / "local")]) == 1
    assert main(args + ["--engine", "ray", "--address", cluster.address, "--out", str(tmp_path / "ray")]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ranemu")]
    assert len(err) == 2 and err[0].split(" (details")[0] == err[1].split(" (details")[0]
    assert err[1].startswith("ranemu: sweep: 2 of 8 jobs failed: p0006_num_devices=20,policy=optimal,seed=5: ")
    local = (tmp_path / "local" / "sweep.csv").read_bytes()
    assert local == (tmp_path / "ray" / "sweep.csv").read_bytes()
    df = pd.read_csv(tmp_path / "ray" / "sweep.csv", keep_default_na=False)
    assert (df["error"] != "").sum() == 2 and df["mec.objective"].iloc[0] != ""
    prov = pd.read_csv(tmp_path / "ray" / "jobs.csv")
    session = json.loads((tmp_path / "ray" / "manifest.json").read_text())["sessions"][0]
    assert session["engine"] == "ray" and len(session["nodes"]) == 2
    node_ids = {n.split()[0] for n in session["nodes"]}
    assert (prov["engine"] == "ray").all() and set(prov["node"]) <= node_ids
    assert set(pd.read_csv(tmp_path / "local" / "jobs.csv")["engine"]) == {"local"}


def test_ship_code_runs_the_drivers_code_uploaded_to_the_cluster(cluster, tmp_path, monkeypatch):
    from bridge.jobs import code_digest

    repo = str(job_fns.REPO)
    # Ray puts the driver's working folder on the workers' path; away from the checkout, only the
    # nodes' installed ranemu or the shipped one can answer.
    monkeypatch.chdir(tmp_path)
    jobs = [Job(key="probe", fn="bridge.jobs:probe", kwargs={})]
    installed = run_jobs(jobs, tmp_path / "a", engine="ray", address=cluster.address, progress=False)
    assert installed.rows["probe"]["module"].startswith(repo)  # the nodes' own (editable) install
    shipped = run_jobs(jobs, tmp_path / "b", engine="ray", address=cluster.address, progress=False, ship_code=True)
    row = shipped.rows["probe"]
    assert not row["module"].startswith(repo) and row["module"].endswith("/bridge/jobs.py")  # Ray's uploaded copy
    assert row["code"] == code_digest() and row["pid"] != installed.rows["probe"]["pid"]


def test_a_worker_killed_mid_run_is_retried_and_gives_the_same_row(connected, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    (job,) = build_jobs(path, ["mec.num_devices=4"], ["greedy"], 20.0, 1).jobs
    marker = tmp_path / "killed-pid"
    killed = Job(key="killed", fn=FN + "point_killed_once", kwargs=dict(job.kwargs, marker=str(marker)))
    res = run_jobs([killed], tmp_path / "run", engine="ray", progress=False)
    assert res.ok, res.errors
    assert res.rows["killed"] == run_point(**job.kwargs)
    rec = res.records["killed"]
    assert rec["pid"] != int(marker.read_text())  # a new worker process ran it


def test_ctrl_c_cancels_ray_tasks_and_resume_runs_each_missing_job_once(connected, tmp_path):
    log, gate = tmp_path / "log", tmp_path / "gate"
    jobs = [Job(key=f"s{s}", fn=FN + "gated", kwargs={"seed": s, "log": str(log), "gate": "" if s < 2 else str(gate)})
            for s in range(6)]
    run_dir = tmp_path / "run"
    stop = threading.Event()

    def ctrl_c_after_two_rows():
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            if len(list((run_dir / "jobs").glob("s*.json"))) >= 2:
                _thread.interrupt_main()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=ctrl_c_after_two_rows, daemon=True)
    watcher.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_jobs(jobs, run_dir, engine="ray", progress=False)
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert sorted(p.stem for p in (run_dir / "jobs").glob("*.json")) == ["s0", "s1"]
    first = log.read_text().split()
    gate.write_text("")
    log.write_text("")
    done = run_jobs(jobs, run_dir, engine="ray", progress=False, resume=True)
    assert ray.is_initialized()  # the caller's connection, left open
    assert done.ok and done.resumed == 2 and list(done.rows) == [f"s{s}" for s in range(6)]
    assert sorted(map(int, log.read_text().split())) == [2, 3, 4, 5]  # s0, s1 not again
    assert set(first) <= {str(s) for s in range(6)}
    assert all(done.rows[f"s{s}"] == job_fns.draw(s) for s in range(6))
    sessions = json.loads((run_dir / "manifest.json").read_text())["sessions"]
    assert [s["outcome"] for s in sessions] == ["interrupted", "done"]


def test_a_job_no_node_can_hold_is_refused_before_anything_runs(connected, tmp_path):
    from bridge.jobs import JobError

    jobs = [Job(key="small", fn="bridge.jobs:echo", kwargs={}),
            Job(key="big", fn="bridge.jobs:echo", kwargs={}, resources={"num_cpus": 4})]
    with pytest.raises(JobError, match=r"job big needs num_cpus=4 \(CPU\); no node of the cluster has that much \(largest: 1\)"):
        run_jobs(jobs, tmp_path / "run", engine="ray", progress=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(JobError, match=r"already connected to Ray at 127.0.0.1:\d+, not 127.0.0.1:1;"):
        run_jobs(jobs[:1], tmp_path / "run", engine="ray", address="127.0.0.1:1", progress=False)
    assert not (tmp_path / "run").exists()
