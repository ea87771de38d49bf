"""The job runner on the local engine: persisted rows, provenance, failures, resume, interruption."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bridge.jobs import Job, JobError, code_digest, package_version, read_results, run_jobs
from tests.bridge import job_fns

FN = "tests.bridge.job_fns:"


def draws(seeds):
    return [Job(key=f"s{s}", fn=FN + "draw", kwargs={"seed": s}) for s in seeds]


def test_rows_are_the_same_in_process_and_in_worker_processes_and_persisted(tmp_path):
    inproc = run_jobs(draws(range(5)), tmp_path / "a", workers=0, progress=False)
    pool = run_jobs(draws(range(5)), tmp_path / "b", workers=2, progress=False)
    assert inproc.ok and pool.ok and list(pool.rows) == [f"s{s}" for s in range(5)]
    assert inproc.rows == pool.rows
    expect = np.random.default_rng(3).standard_normal(4)
    assert pool.rows["s3"]["draws"] == [float(v) for v in expect]  # bit for bit after the JSON trip
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert [j["key"] for j in manifest["jobs"]] == list(pool.rows)
    (session,) = manifest["sessions"]
    assert session["engine"] == "local" and session["workers"] == 2 and session["outcome"] == "done"
    assert session["version"] == package_version() and session["code"] == code_digest()
    rec = json.loads((tmp_path / "b" / "jobs" / "s3.json").read_text())
    assert rec["status"] == "ok" and rec["result"] == pool.rows["s3"] and rec["engine"] == "local"
    assert rec["node"] and rec["version"] == package_version() and rec["wall_s"] >= 0
    # worker processes, not the driver, ran the pooled jobs
    import os
    assert rec["pid"] != os.getpid()


def test_a_failed_job_records_its_error_and_resume_redoes_only_it(tmp_path):
    log, flag = tmp_path / "log", tmp_path / "fail"
    jobs = [Job(key=f"s{s}", fn=FN + "logged",
                kwargs={"seed": s, "log": str(log), "fail_if": str(flag) if s == 2 else ""}) for s in range(4)]
    flag.write_text("")
    first = run_jobs(jobs, tmp_path / "run", workers=2, progress=False)
    assert set(first.rows) == {"s0", "s1", "s3"} and first.errors == {"s2": "ValueError: seed 2 told to fail"}
    line = first.summary_line()
    assert line.startswith("1 of 4 jobs failed: s2: ValueError") and "\n" not in line
    rec = json.loads((tmp_path / "run" / "jobs" / "s2.json").read_text())
    assert rec["status"] == "error" and "Traceback" in rec["traceback"]
    with pytest.raises(JobError, match="already holds a run"):
        run_jobs(jobs, tmp_path / "run", workers=0, progress=False)
    flag.unlink()
    log.write_text("")
    second = run_jobs(jobs, tmp_path / "run", workers=0, progress=False, resume=True)
    assert second.ok and second.resumed == 3 and log.read_text().split() == ["2"]
    assert list(second.rows) == ["s0", "s1", "s2", "s3"]
    assert second.rows["s2"] == job_fns.draw(2) and second.rows["s0"] == first.rows["s0"]
    sessions = json.loads((tmp_path / "run" / "manifest.json").read_text())["sessions"]
    assert [(s["jobs_to_run"], s["resumed"], s["failed"]) for s in sessions] == [(4, 0, 1), (1, 3, 0)]
    on_disk = read_results(tmp_path / "run")  # the same, read back without running anything
    assert on_disk.rows == second.rows and on_disk.errors == {} and on_disk.engine == "local"
    with pytest.raises(JobError, match="holds no job run"):
        read_results(tmp_path / "nothing")


def test_ctrl_c_leaves_a_folder_that_resume_finishes_without_duplicates(tmp_path):
    log, stop = tmp_path / "log", tmp_path / "stop"
    jobs = [Job(key=f"s{s}", fn=FN + "logged",
                kwargs={"seed": s, "log": str(log), "interrupt_if": str(stop) if s == 3 else ""}) for s in range(6)]
    stop.write_text("")
    with pytest.raises(KeyboardInterrupt):
        run_jobs(jobs, tmp_path / "run", workers=0, progress=False)
    assert sorted(p.stem for p in (tmp_path / "run" / "jobs").glob("*.json")) == ["s0", "s1", "s2"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["sessions"][0]["outcome"] == "interrupted"
    stop.unlink()
    log.write_text("")
    done = run_jobs(jobs, tmp_path / "run", workers=2, progress=False, resume=True)
    assert done.ok and list(done.rows) == [f"s{s}" for s in range(6)]
    assert sorted(map(int, log.read_text().split())) == [3, 4, 5]  # each missing job once, none again
    assert all(done.rows[f"s{s}"] == job_fns.draw(s) for s in range(6))


def test_a_killed_local_worker_fails_only_unfinished_jobs_and_resume_recovers(tmp_path):
    jobs = draws(range(3)) + [Job(key="killed", fn=FN + "die_once", kwargs={"seed": 9, "marker": str(tmp_path / "m")})]
    first = run_jobs(jobs, tmp_path / "run", workers=2, progress=False)
    assert "killed" in first.errors and first.errors["killed"].startswith("WorkerDied")
    again = run_jobs(jobs, tmp_path / "run", workers=2, progress=False, resume=True)
    assert again.ok and again.rows["killed"] == job_fns.draw(9)
    assert [again.rows[f"s{s}"] for s in range(3)] == [job_fns.draw(s) for s in range(3)]


def test_bad_jobs_and_folders_are_one_line_errors(tmp_path):
    for jobs, why in [
        ([Job("a b", FN + "draw", {"seed": 1})], "not filesystem-safe"),
        ([Job("../up", FN + "draw", {"seed": 1})], "not filesystem-safe"),
        (draws([1, 1]), "given twice"),
        ([Job("a", "tests.bridge.job_fns.draw", {"seed": 1})], "package.module:function"),
        ([Job("a", FN + "draw", {"seed": np.int64(1)})], "not JSON-serialisable"),
        ([Job("a", FN + "draw", {"seed": (1, 2)})], "JSON round trip"),
    ]:
        with pytest.raises(JobError, match=why):
            run_jobs(jobs, tmp_path / "x", workers=0, progress=False)
    with pytest.raises(JobError, match="unknown engine 'dask'"):
        run_jobs(draws([1]), tmp_path / "y", engine="dask")
    run_jobs(draws([1, 2]), tmp_path / "z", workers=0, progress=False)
    with pytest.raises(JobError, match="different grid \\(first difference: job s2\\)"):
        run_jobs(draws([1, 3]), tmp_path / "z", workers=0, progress=False, resume=True)
    changed = [Job("s1", FN + "draw", {"seed": 1, "n": 5}), draws([2])[0]]
    with pytest.raises(JobError, match="different grid \\(first difference: job s1\\)"):
        run_jobs(changed, tmp_path / "z", workers=0, progress=False, resume=True)
    bad = run_jobs([Job("a", FN + "not_a_dict", {"seed": 1}), Job("b", FN + "nowhere", {})],
                   tmp_path / "w", workers=0, progress=False)
    assert bad.errors == {"a": "TypeError: tests.bridge.job_fns:not_a_dict returned list, expected a dict",
                          "b": "AttributeError: module 'tests.bridge.job_fns' has no attribute 'nowhere'"}


def test_engine_options_pick_ray_when_an_address_is_given(monkeypatch):
    import argparse

    from bridge.jobs import add_engine_arguments, engine_options

    parser = argparse.ArgumentParser()
    add_engine_arguments(parser)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    opts = engine_options(parser.parse_args([]))
    assert opts == {"engine": "local", "workers": None, "address": None, "resume": False, "ship_code": False}
    assert engine_options(parser.parse_args(["--address", "auto"]))["engine"] == "ray"
    assert engine_options(parser.parse_args(["--workers", "3", "--resume"]))["workers"] == 3
    assert engine_options(parser.parse_args(["--engine", "ray", "--workers", "2"]))["workers"] == 2  # private Ray's CPUs
    with pytest.raises(JobError, match="no effect on a running Ray cluster"):
        engine_options(parser.parse_args(["--address", "auto", "--workers", "3"]))
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    assert engine_options(parser.parse_args([]))["engine"] == "ray"
    assert engine_options(parser.parse_args(["--engine", "local"]))["engine"] == "local"
    with pytest.raises(JobError, match="--address 10.0.0.2:6379 is a Ray cluster address; it needs --engine ray"):
        engine_options(parser.parse_args(["--engine", "local", "--address", "10.0.0.2:6379"]))
    with pytest.raises(JobError, match="--workers must be >= 0"):
        engine_options(parser.parse_args(["--workers", "-1"]))


def test_a_ray_address_where_nothing_listens_is_one_line_in_seconds(tmp_path):
    with pytest.raises(JobError, match=r"cannot reach Ray at 127.0.0.1:1 \(.*:1\): ConnectionRefusedError.*ray start --head"):
        run_jobs(draws([1]), tmp_path / "run", engine="ray", address="127.0.0.1:1", progress=False)
    assert not (tmp_path / "run").exists()  # checked first: the same command works once a cluster is there


def test_job_resources_become_ray_task_options():
    from bridge.jobs import _ray_options

    assert _ray_options(None, 3) == {"max_retries": 3, "retry_exceptions": False, "num_cpus": 1}
    assert _ray_options({"num_cpus": 2, "num_gpus": 0.5, "memory": 2**30, "licence": 1}, 0) == {
        "max_retries": 0, "retry_exceptions": False, "num_cpus": 2, "num_gpus": 0.5, "memory": 2**30,
        "resources": {"licence": 1}}
    assert _ray_options({"num_gpus": 1}, 3)["num_cpus"] == 1  # a CPU too, unless said otherwise
