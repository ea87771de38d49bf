"""CURVE: key pairs, accepted keys attach, unknown or missing keys cannot; supervised agents get keys."""
from __future__ import annotations

import os
import shutil
import stat

import pandas as pd
import pytest

from bridge.client import AgentClient
from bridge.keys import authorized_keys, generate_keypair, load_public, load_secret
from emulator.errors import RanemuError
from tests.bridge.conftest import REPO, queue_scenario, reference_trace


@pytest.fixture
def keys(tmp_path):
    server_pub, server_sec = generate_keypair(tmp_path / "server", "server")
    good_pub, good_sec = generate_keypair(tmp_path / "clients", "good")
    _, bad_sec = generate_keypair(tmp_path / "other", "bad")
    allowed = tmp_path / "authorized"
    allowed.mkdir()
    shutil.copy(good_pub, allowed / "good.key")
    return {"server_pub": server_pub, "server_sec": server_sec, "good": good_sec, "bad": bad_sec, "allowed": allowed}


def test_generate_keypair_files(tmp_path):
    pub, sec = generate_keypair(tmp_path, "n1")
    assert pub.name == "n1.key" and sec.name == "n1.key_secret"
    assert stat.S_IMODE(os.stat(sec).st_mode) == 0o600
    public, secret = load_secret(sec)
    assert load_public(pub) == public and len(public) == 40 and len(secret) == 40
    assert authorized_keys(tmp_path) == {public}
    with pytest.raises(RanemuError, match="already exists"):
        generate_keypair(tmp_path, "n1")
    with pytest.raises(RanemuError, match="holds no secret key"):
        load_secret(pub)


def curve_scenario(keys, **kw):
    return queue_scenario(curve={"server_secret_key": str(keys["server_sec"]),
                                 "authorized_keys": str(keys["allowed"])}, **kw)


def test_only_clients_with_an_authorised_key_attach(served, keys):
    emu, bridge = served(curve_scenario(keys))
    with AgentClient(bridge.endpoint, ["queue/q0"], timeout_s=1.0,
                     curve={"server_public_key": keys["server_pub"], "client_keys": keys["bad"]}) as c:
        with pytest.raises(TimeoutError, match="CURVE"):
            c.connect()
    with AgentClient(bridge.endpoint, ["queue/q0"], timeout_s=1.0) as c:  # no CURVE at all
        with pytest.raises(TimeoutError):
            c.connect()
    assert bridge.attached() == {}
    with pytest.raises(RanemuError, match="--server-key SERVER.key --client-key"):  # the hint names the keys
        bridge.wait_for_agents(1, 0.2)
    with AgentClient(bridge.endpoint, ["queue/q0"], name="trusted", timeout_s=5.0,
                     curve={"server_public_key": keys["server_pub"], "client_keys": keys["good"]}) as c:
        assert c.connect().roles["queue/q0"].kind == "rate"
        assert bridge.attached() == {"trusted": ["queue/q0"]}


def test_supervised_agents_receive_an_ephemeral_authorised_key(served, keys, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    agent = ["{python}", "-m", "tests.bridge.agent_proc", "--endpoint", "{endpoint}", "--role", "{roles}"]
    sc = curve_scenario(keys, duration=0.5, processes=[{"roles": ["queue/q0", "queue/q1", "queue/q2"], "command": agent}])
    ref = reference_trace(sc)
    emu, bridge = served(sc, run_dir=tmp_path)
    bridge.wait_for_agents(1, 30)
    emu.run()
    pd.testing.assert_frame_equal(ref, emu.traces.table("queues").to_pandas())


def test_curve_allows_binding_beyond_loopback_only_with_keys_configured(keys):
    # Refusal is checked before any socket is bound (tests stay on loopback).
    from bridge.server import AgentBridge
    from tests.bridge.conftest import queue_emulation

    with pytest.raises(RanemuError, match="refusing to bind tcp://0.0.0.0"):  # when validated
        queue_scenario(endpoint="tcp://0.0.0.0:*")
    sc = queue_scenario()
    sc = sc.model_copy(update={"agents": sc.agents.model_copy(update={"endpoint": "tcp://0.0.0.0:*"})})
    with pytest.raises(RanemuError, match="refusing to bind tcp://0.0.0.0"):  # and by the bridge
        AgentBridge(queue_emulation(sc), sc.agents).start()
    bad = curve_scenario(keys)
    bad.agents.curve.authorized_keys = str(keys["allowed"] / "missing")
    with pytest.raises(RanemuError, match="authorized_keys directory not found"):
        AgentBridge(queue_emulation(bad), bad.agents).start()
