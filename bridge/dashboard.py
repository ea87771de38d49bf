"""Live dashboard: a web page fed by the bridge's telemetry PUB stream (KPIs, agents, RTT, lateness).

    ranemu dashboard --pub tcp://127.0.0.1:5556            # http://127.0.0.1:8050/
    ranemu run scenarios/slicing-12cell.yaml --realtime --dashboard

The server (aiohttp) subscribes to the PUB socket with ZeroMQ's asyncio support and forwards every
message, as JSON, to the pages connected over a WebSocket; a page that connects late first gets the
last `HISTORY` messages of each topic. The page draws with uPlot, shipped in `static/dashboard/`
(no network access at run time). Binding anything but loopback needs a token and TLS — the same
rule as the agent endpoint, where anything but loopback needs CURVE.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import os
import secrets
import signal
import ssl
import sys
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import zmq
import zmq.asyncio

from bridge import protocol as P
from emulator.errors import RanemuError

log = logging.getLogger("ranemu.dashboard")

STATIC = Path(__file__).resolve().parent / "static" / "dashboard"
HISTORY = 600  # messages kept per topic for pages that connect late
COOKIE = "ranemu_dashboard"
DEFAULT_BIND = "127.0.0.1:8050"


def parse_bind(text: str, option: str = "--bind") -> tuple[str, int]:
    """`HOST:PORT` (IPv6 in brackets) -> (host, port); RanemuError naming `option` and the problem."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host:
        raise RanemuError(f"{option} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8050")
    try:
        p = int(port)
    except ValueError:
        raise RanemuError(f"{option} {text!r}: port {port!r} is not a number") from None
    if not 0 <= p <= 65535:
        raise RanemuError(f"{option} {text!r}: port {p} outside 0..65535")
    return host, p


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name or an interface: not provably loopback


def jsonable(obj: Any) -> Any:
    """Telemetry payload -> plain JSON values (arrays to lists; NaN and infinities to null)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


class Dashboard:
    """Subscribes to `pub_endpoint` and serves the page; `token` (if set) guards every request."""

    def __init__(self, pub_endpoint: str, token: str | None = None, curve: dict | None = None,
                 history: int = HISTORY):
        self.pub_endpoint = pub_endpoint
        self.token = token
        self.curve = curve
        self.history: dict[str, deque[str]] = {}
        self.history_len = history
        self.clients: set = set()
        self.received = 0

    # -- telemetry -------------------------------------------------------------------------------
    async def subscribe(self) -> None:
        ctx = zmq.asyncio.Context.instance()
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 10000)
        if self.curve is not None:
            sock.curve_serverkey = self.curve["server"]
            sock.curve_publickey, sock.curve_secretkey = self.curve["public"], self.curve["secret"]
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(self.pub_endpoint)
        try:
            while True:
                frames = await sock.recv_multipart()
                if len(frames) != 2:
                    continue
                try:
                    payload = P.decode(frames[1])
                except P.ProtocolError as exc:
                    log.warning("dropped a malformed telemetry message: %s", exc)
                    continue
                self.publish(frames[0].decode(errors="replace"), payload)
        finally:
            sock.close()

    def publish(self, topic: str, payload: dict) -> None:
        """Keep the message for late pages and send it to every connected page."""
        text = json.dumps({"topic": topic, "data": jsonable(payload)}, allow_nan=False)
        h = self.history.get(topic)
        if h is None:
            h = self.history[topic] = deque(maxlen=self.history_len)
        h.append(text)
        self.received += 1
        for ws in list(self.clients):
            if ws.closed:
                self.clients.discard(ws)
                continue
            asyncio.ensure_future(self._send(ws, text))

    async def _send(self, ws, text: str) -> None:
        try:
            await ws.send_str(text)
        except (ConnectionError, RuntimeError):
            self.clients.discard(ws)

    # -- web -----------------------------------------------------------------------------------------
    def app(self):
        from aiohttp import web

        @web.middleware
        async def auth(request, handler):
            if self.token is not None:
                given = request.query.get("token") or request.cookies.get(COOKIE) or ""
                bearer = request.headers.get("Authorization", "")
                if bearer.startswith("Bearer "):
                    given = bearer[7:]
                if not secrets.compare_digest(given.encode(), self.token.encode()):
                    return web.Response(status=401, text="ranemu dashboard: a valid token is needed "
                                                         "(open the URL with ?token=... printed at start)\n")
            resp = await handler(request)
            if self.token is not None and request.query.get("token") and isinstance(resp, web.StreamResponse) \
                    and not resp.prepared:
                resp.set_cookie(COOKIE, self.token, httponly=True, secure=True, samesite="Strict")
            return resp

        async def index(request):
            return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

        async def socket(request):
            origin = request.headers.get("Origin")
            if origin is not None and origin.split("://", 1)[-1] != request.host:
                # A page from another site may open WebSockets to loopback: only our own page may.
                return web.Response(status=403, text="cross-origin WebSocket refused\n")
            ws = web.WebSocketResponse(heartbeat=10.0)
            await ws.prepare(request)
            for h in list(self.history.values()):
                for text in list(h):
                    await ws.send_str(text)
            self.clients.add(ws)
            try:
                async for _ in ws:  # the page sends nothing; this waits for it to close
                    pass
            finally:
                self.clients.discard(ws)
            return ws

        async def health(request):
            return web.json_response({"received": self.received, "pages": len(self.clients),
                                      "topics": sorted(self.history)})

        app = web.Application(middlewares=[auth])
        app.router.add_get("/", index)
        app.router.add_get("/ws", socket)
        app.router.add_get("/healthz", health)
        app.router.add_static("/static/", STATIC, show_index=False)
        return app


async def _serve(dash: Dashboard, host: str, port: int, ssl_context, exit_with_parent: bool) -> None:
    from aiohttp import web

    runner = web.AppRunner(dash.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise RanemuError(f"cannot bind the dashboard on {host}:{port}: {exc.strerror or exc}") from None
    bound = runner.addresses[0]
    shown = f"[{bound[0]}]" if ":" in str(bound[0]) else bound[0]
    url = f"{'https' if ssl_context else 'http'}://{shown}:{bound[1]}/"
    if dash.token is not None:
        url += f"?token={dash.token}"
    print(f"dashboard: {url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.ensure_future(dash.subscribe())]
    if exit_with_parent:
        tasks.append(asyncio.ensure_future(_watch_parent(os.getppid(), stop)))
    waiter = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t is not waiter and t.exception() is not None:
                raise t.exception()
    finally:
        for t in [waiter, *tasks]:
            t.cancel()
        await runner.cleanup()


async def _watch_parent(ppid: int, stop: asyncio.Event) -> None:
    """Started by `ranemu run --dashboard`: leave when that run is gone (re-parented)."""
    while os.getppid() == ppid:
        await asyncio.sleep(0.5)
    stop.set()


def run_dashboard(pub: str, bind: str = DEFAULT_BIND, token: str | None = None, tls_cert: str | None = None,
                  tls_key: str | None = None, server_key: str | None = None, client_key: str | None = None,
                  exit_with_parent: bool = False) -> int:
    """Serve the dashboard until SIGINT/SIGTERM. Loopback binds need nothing; any other bind needs
    TLS (`tls_cert`, `tls_key`) and a token (one is made and printed when not given). A PUB
    endpoint off this host needs CURVE keys (`server_key`: the emulator's public key file,
    `client_key`: this client's secret key file, made by `ranemu keys`)."""
    from bridge.server import is_local_endpoint

    host, port = parse_bind(bind)
    local_pub = is_local_endpoint(pub)  # also: RanemuError for an endpoint that is not one
    ssl_context = None
    if not is_loopback(host):
        if not (tls_cert and tls_key):
            raise RanemuError(f"refusing to serve the dashboard on {host}: it is not loopback. Give --tls-cert "
                              "and --tls-key (a token guards the page), or bind 127.0.0.1:PORT and use an SSH tunnel")
        token = token or secrets.token_urlsafe(24)
    if tls_cert or tls_key:
        if not (tls_cert and tls_key):
            raise RanemuError("--tls-cert and --tls-key go together")
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ssl_context.load_cert_chain(tls_cert, tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise RanemuError(f"cannot load the TLS certificate {tls_cert} / key {tls_key}: {exc}") from None
    from bridge.server import ENV_CURVE_PUBLIC, ENV_CURVE_SECRET, ENV_CURVE_SERVER

    curve = None
    if not (server_key or client_key) and os.environ.get(ENV_CURVE_SERVER):
        # a run started this dashboard and handed it a key pair it accepts (`run --dashboard`)
        curve = {"server": os.environ[ENV_CURVE_SERVER].encode(), "public": os.environ[ENV_CURVE_PUBLIC].encode(),
                 "secret": os.environ[ENV_CURVE_SECRET].encode()}
    elif server_key or client_key:
        if not (server_key and client_key):
            raise RanemuError("--server-key and --client-key go together (CURVE)")
        from bridge.keys import load_public, load_secret

        public, secret = load_secret(client_key)
        curve = {"server": load_public(server_key), "public": public, "secret": secret}
    elif not local_pub:
        raise RanemuError(f"telemetry endpoint {pub} is off this host: give --server-key and --client-key (CURVE)")
    dash = Dashboard(pub, token=token, curve=curve)
    try:
        asyncio.run(_serve(dash, host, port, ssl_context, exit_with_parent))
    except KeyboardInterrupt:
        pass
    return 0


class DashboardProcess:
    """`ranemu dashboard` as a child process of a run (its own GIL: serving pages never slows the
    clock); it leaves when the run closes it, or by itself when the run is gone."""

    def __init__(self, pub: str, bind: str = DEFAULT_BIND, start_timeout_s: float = 30.0,
                 env: dict[str, str] | None = None):
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bridge.cli", "dashboard", "--pub", pub, "--bind", bind, "--exit-with-parent"],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env={**os.environ, **(env or {})})
        try:
            self.url = self._read_url(start_timeout_s)
        except BaseException:
            self.close()
            raise

    def _read_url(self, timeout_s: float) -> str:
        import selectors
        import time

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if sel.select(timeout=0.1):
                    line = self.proc.stdout.readline()
                    if line.startswith("dashboard: "):
                        return line.split(" ", 1)[1].strip()
                    if not line:  # it exited; its error went to our stderr
                        break
        finally:
            sel.close()
        raise RanemuError(f"the dashboard did not start (exit code {self.proc.poll()})")

    def close(self) -> None:
        import subprocess

        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m bridge.dashboard` = `ranemu dashboard`."""
    from bridge.cli import main as cli_main

    return cli_main(["dashboard", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
