"""The live dashboard: driven by a real headless browser while a real-time run with an agent process
attached over CURVE goes (page loads with no console errors, charts gain points, the agents' table
shows the agent, a screenshot is written); its serving rule: loopback by default, anything else
needs TLS and a token."""
from __future__ import annotations

import asyncio
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time

import pytest

from bridge.cli import main
from bridge.dashboard import Dashboard
from tests.bridge.conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _read_url(proc: subprocess.Popen, timeout_s: float) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    seen = []
    try:
        while time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                line = proc.stdout.readline()
                if not line:
                    break
                seen.append(line)
                if line.startswith("dashboard: "):
                    return line.split(" ", 1)[1].strip()
    finally:
        sel.close()
    raise AssertionError(f"no dashboard URL from the run; its output: {''.join(seen)!r}")


def _wait(fn, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                    reason="no chromium + chromedriver (Debian: apt-get install chromium chromium-driver)")
def test_dashboard_in_a_headless_browser_during_a_real_time_run(tmp_path, processes):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from bridge.keys import generate_keypair

    # CURVE on: the agent process and the run's own dashboard get key pairs of their own from the run
    # (the PUB socket is a CURVE server too), as in the README's hardware-in-the-loop walk-through.
    _, server_secret = generate_keypair(tmp_path / "keys")
    (tmp_path / "keys" / "clients").mkdir()
    agent = ["{python}", "-m", "tests.bridge.late_agent", "--endpoint", "{endpoint}", "--role", "{role}",
             "--late-every", "4", "--sleep", "0.3"]
    argv = [sys.executable, "-m", "bridge.cli", "run", str(REPO / "scenarios" / "quickstart.yaml"), "--realtime",
            "--quiet", "--dashboard", "127.0.0.1:0", "--out", str(tmp_path / "runs"),
            "--param", "duration=60", "--param", "ran.decision_period_s=0.2", "--param", "output.report=false",
            "--param", "agents.endpoint=tcp://127.0.0.1:*", "--param", f"agents.pub_endpoint=ipc://{tmp_path}/kpi",
            "--param", f"agents.curve.server_secret_key={server_secret}",
            "--param", f"agents.curve.authorized_keys={tmp_path / 'keys' / 'clients'}",
            "--param", "agents.wait_agents=1",
            "--param", "agents.processes=" + json.dumps([{"roles": ["slice/cell0"], "command": agent}])]
    run = processes(argv, stdout=subprocess.PIPE, text=True)
    url = _read_url(run, 60)
    assert url.startswith("http://127.0.0.1:")

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1100"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.get(url)
        state = "return window.ranemuDashboard ? window.ranemuDashboard.points : null"
        charts = ("ran-slice-thr", "ran-cell-thr", "ran-slice-delay", "ran-cell-sat", "bridge-timing")
        first = _wait(lambda: (lambda p: p if p and all(p.get(c, 0) > 0 for c in charts) else None)(
            driver.execute_script(state)), 60, "every chart's first points")
        later = _wait(lambda: (lambda p: p if all(p[c] > first[c] for c in charts) else None)(
            driver.execute_script(state)), 30, "every chart to gain points")
        assert all(later[c] > first[c] for c in charts)
        rows = _wait(lambda: [r.text for r in driver.find_elements("css selector", "#agents tbody tr")], 30,
                     "the agents' table")
        assert any(r.startswith("late-agent") and "slice/cell0" in r for r in rows), rows
        points = [r.text for r in driver.find_elements("css selector", "#points tbody tr")]
        assert any(r.startswith("slice/cell0") for r in points) and len(points) == 3
        shot = tmp_path / "dashboard.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()
    run.send_signal(signal.SIGINT)  # a clean stop: traces closed, the dashboard child closed
    assert run.wait(timeout=60) == 130
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "traces" / "decisions.parquet").exists()


def test_a_bind_off_loopback_needs_tls_and_a_token(capsys):
    assert main(["dashboard", "--bind", "0.0.0.0:0", "--pub", "ipc:///nonexistent/kpi"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not loopback" in err[0] and "--tls-cert" in err[0]
    assert main(["dashboard", "--bind", "127.0.0.1:99999", "--pub", "ipc:///x"]) == 2
    assert "outside 0..65535" in capsys.readouterr().err


def test_token_guards_every_request_and_foreign_pages_get_no_socket():
    from aiohttp.test_utils import TestClient, TestServer

    dash = Dashboard("ipc:///nonexistent/kpi", token="s3cret")
    dash.publish("ran.kpi", {"time": 0.1, "delay_s": [[float("nan")]]})

    async def go():
        async with TestClient(TestServer(dash.app())) as client:
            assert (await client.get("/")).status == 401
            assert (await client.get("/static/dashboard.js")).status == 401
            assert (await client.get("/?token=wrong")).status == 401
            ok = await client.get("/?token=s3cret")
            assert ok.status == 200 and "ranemu live" in await ok.text()
            assert (await client.get("/healthz", headers={"Authorization": "Bearer s3cret"})).status == 200
            bad = await client.get("/ws", headers={"Authorization": "Bearer s3cret", "Origin": "http://evil.example"})
            assert bad.status == 403
            ws = await client.ws_connect("/ws", headers={"Authorization": "Bearer s3cret"})
            msg = json.loads((await ws.receive()).data)  # the history comes first; NaN became null
            assert msg == {"topic": "ran.kpi", "data": {"time": 0.1, "delay_s": [[None]]}}
            await ws.close()

    asyncio.run(go())
