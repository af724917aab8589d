"""The web panel's HTTP server (aiohttp): the page and the JSON API of docs/web.md.

It runs on a thread of its own with its own asyncio loop, in the --supervise process (the panel
outlives show restarts) or in the show when it runs alone. Handlers only read `PanelState` and
hand checked actions to `send`; nothing here touches the show's objects.

Rules: reads from this computer need no token, everything else needs `Authorization: Bearer
<web.token>`; bodies over MAX_BODY are refused (413); each client gets RATE_PER_S requests a second
(burst BURST), more are answered 429 after a pause, so a hammering client costs little CPU.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from installation.config import WebConfig
from installation.ratelimit import RateLimitedLog
from installation.web.actions import to_command
from installation.web.logtail import LogTail
from installation.web.plot import engagement_png
from installation.web.state import PanelState

log = logging.getLogger(__name__)

MAX_BODY = 4096  # bytes: every command fits in a few dozen
RATE_PER_S = 20.0  # requests per second per client (the page needs about 3)
BURST = 40.0
PENALTY_S = 0.5  # a client over its rate waits this long for its 429: a flood slows itself down
MAX_IN_FLIGHT = 16  # requests handled at once; more wait their turn (asyncio waiting costs nothing)
MAX_CLIENTS = 1024  # rate buckets kept; a flood of invented addresses cannot grow memory
PAGE = Path(__file__).with_name("page.html")
PAGE_BYTES = PAGE.read_bytes()


def _script_hash(page: bytes) -> str:
    """CSP source for the page's one inline script: only that exact script may run, nothing injected."""
    script = page.split(b"<script>", 1)[1].split(b"</script>", 1)[0]
    return "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"


SECURITY_HEADERS = {
    "Content-Security-Policy": f"default-src 'none'; script-src {_script_hash(PAGE_BYTES)}; style-src 'unsafe-inline'; "
    "img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

ROUTES = (  # docs/web.md lists the same (tests/test_web.py checks)
    ("GET", "/", "_page_handler"),
    ("GET", "/api/status", "_status"),
    ("GET", "/api/history", "_history"),
    ("GET", "/api/thumbnail.jpg", "_thumbnail"),
    ("GET", "/api/log", "_log"),
    ("GET", "/api/engagement.png", "_engagement"),
    ("POST", "/api/preset", "_preset"),
    ("POST", "/api/model", "_model"),
    ("POST", "/api/snapshot", "_snapshot"),
    ("POST", "/api/record", "_record"),
)

Send = Callable[[dict[str, Any]], None]  # raises LookupError when no show is there to take it


class RateLimiter:
    """A token bucket per client address."""

    def __init__(self, rate_per_s: float = RATE_PER_S, burst: float = BURST) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, last time)
        self.refused = 0

    def allow(self, client: str, now_s: float) -> bool:
        tokens, last_s = self._buckets.get(client, (self.burst, now_s))
        tokens = min(self.burst, tokens + (now_s - last_s) * self.rate_per_s)
        if len(self._buckets) >= MAX_CLIENTS and client not in self._buckets:
            self._buckets.clear()
        if tokens < 1.0:
            self._buckets[client] = (tokens, now_s)
            self.refused += 1
            return False
        self._buckets[client] = (tokens - 1.0, now_s)
        return True


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=SECURITY_HEADERS)


def is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def _host_is_local_or_ip(host: str) -> bool:
    """The Host header names this computer or an address: a DNS-rebinding page cannot read for free."""
    if host.startswith("["):  # [::1]:8080
        name = host[1 : host.find("]")] if "]" in host else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


class WebServer:
    def __init__(
        self,
        config: WebConfig,
        state: PanelState,
        tail: LogTail,
        send: Send,
        on_start: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.tail = tail
        self.send = send
        self.on_start = on_start  # the supervisor's socket server starts in the same loop
        self.limiter = RateLimiter()
        self.port = config.port
        self.error = ""
        self.requests = 0
        self._warn = RateLimitedLog(log)
        self._page = PAGE_BYTES
        self._png: tuple[int, bytes] = (-1, b"")  # (status seq, PNG)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_flight: asyncio.Semaphore | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self, timeout_s: float = 10.0) -> bool:
        """Bind and serve on a thread of its own. False (and one error line) when the port is taken."""
        self._thread = threading.Thread(target=self._run, name="web-panel", daemon=True)
        self._thread.start()
        self._ready.wait(timeout_s)
        if self.error or not self._ready.is_set():
            log.error("web panel: %s; the show goes on without it", self.error or "did not start")
            self.close()
            return False
        log.info(
            "web panel: http://%s:%d/ (docs/web.md)%s",
            self.config.host,
            self.port,
            "" if self.config.token else "; no web.token, so nothing can be changed from it",
        )
        return True

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
            if not self.error:
                loop.run_forever()
        except Exception as exc:  # the panel's own failure must not look like a running panel
            self.error = self.error or f"stopped: {exc}"
            log.error("web panel: %s", self.error)
        finally:
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()
            self._ready.set()

    async def _serve(self) -> None:
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._guard])
        app.add_routes([web.route(method, path, getattr(self, handler)) for method, path, handler in ROUTES])
        # keepalive_timeout: idle connections are closed after 10 s, so idle sockets cannot pile up
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, keepalive_timeout=10.0)
        await self._runner.setup()
        try:
            site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True)
            await site.start()
            sockets = getattr(site._server, "sockets", None) or []  # the real port when 0 was asked for
            if sockets:
                self.port = sockets[0].getsockname()[1]
            if self.on_start is not None:
                await self.on_start()
        except OSError as exc:
            self.error = f"cannot listen on {self.config.host}:{self.config.port} ({exc.strerror or exc})"
        self._ready.set()

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:  # closed meanwhile
                pass
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)

    # ------------------------------------------------------------ every request
    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.requests += 1
        client = request.remote or "?"
        if not self.limiter.allow(client, time.monotonic()):
            self._warn.warn(
                f"rate:{client}",
                f"web panel: {client} sends more than {RATE_PER_S:g} requests a "
                "second; the extra ones are refused (429)",
            )
            await asyncio.sleep(PENALTY_S)
            return _error(429, f"too many requests: at most {RATE_PER_S:g} a second; slow down")
        assert self._in_flight is not None
        async with self._in_flight:
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # aiohttp's own 404/405/413: JSON like ours
                return _error(exc.status, exc.reason)
        response.headers.update(SECURITY_HEADERS)
        return response

    def _authorised(self, request: web.Request) -> bool:
        token = self.config.token
        given = request.headers.get("Authorization", "")
        return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    def _may_read(self, request: web.Request) -> bool:
        if is_loopback(request.remote) and _host_is_local_or_ip(request.host):
            return True
        return self._authorised(request)

    def _refuse_read(self) -> web.Response:
        return _error(401, "reading from another computer needs the header 'Authorization: Bearer <web.token>'")

    # ------------------------------------------------------------ reads
    async def _page_handler(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=self._page, content_type="text/html", charset="utf-8")  # holds no data itself

    async def _status(self, request: web.Request) -> web.StreamResponse:
        if not self._may_read(request):
            return self._refuse_read()
        record = self.state.status()
        record["writable"] = bool(self.config.token)
        return web.json_response(record)

    async def _history(self, request: web.Request) -> web.StreamResponse:
        if not self._may_read(request):
            return self._refuse_read()
        return web.json_response(self.state.history())

    async def _thumbnail(self, request: web.Request) -> web.StreamResponse:
        if not self._may_read(request):
            return self._refuse_read()
        update, _ = self.state.latest()
        if update is None or not update.jpeg:
            return _error(503, "no picture yet (the show is starting, or closed with a black screen)")
        return web.Response(body=update.jpeg, content_type="image/jpeg")

    async def _log(self, request: web.Request) -> web.StreamResponse:
        if not self._may_read(request):
            return self._refuse_read()
        return web.json_response({"lines": self.tail.lines()})

    async def _engagement(self, request: web.Request) -> web.StreamResponse:
        if not self._may_read(request):
            return self._refuse_read()
        update, seq = self.state.latest()
        if self._png[0] != seq or not self._png[1]:
            self._png = (seq, engagement_png(update.status.get("engagement") if update is not None else None))
        return web.Response(body=self._png[1], content_type="image/png")

    # ------------------------------------------------------------ writes
    async def _command(self, request: web.Request, action: str, needs_body: bool) -> web.StreamResponse:
        if not self.config.token:
            return _error(401, "changes from the panel need web.token set in the show's config (docs/web.md)")
        if not self._authorised(request):
            return _error(401, "wrong or missing token: send the header 'Authorization: Bearer <web.token>'")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, f"body too large: at most {MAX_BODY} bytes")
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return _error(413, f"body too large: at most {MAX_BODY} bytes")
        body: dict[str, Any] = {}
        if needs_body or raw.strip():
            try:
                parsed = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                return _error(400, f"malformed JSON ({str(exc)[:120]})")
            if not isinstance(parsed, dict):
                return _error(400, "expected a JSON object")
            body = parsed
        item = {**body, "action": action}
        try:
            to_command(item, self.state.names("presets"), self.state.names("models"))  # 400 with the valid names
        except ValueError as exc:
            return _error(400, str(exc))
        if self.state.state() != "running":
            return _error(503, "the show is restarting; try again in a moment")
        # checked above; nothing else travels
        sent: dict[str, Any] = {k: item[k] for k in ("action", "name", "on") if k in item}
        try:
            self.send(sent)
        except LookupError as exc:
            return _error(503, f"the show is restarting; try again in a moment ({exc})")
        log.info("web panel: %s from %s", json.dumps(sent), request.remote)
        return web.json_response({"ok": True, "queued": sent}, status=202)

    async def _preset(self, request: web.Request) -> web.StreamResponse:
        return await self._command(request, "preset", True)

    async def _model(self, request: web.Request) -> web.StreamResponse:
        return await self._command(request, "model", True)

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        return await self._command(request, "snapshot", False)

    async def _record(self, request: web.Request) -> web.StreamResponse:
        return await self._command(request, "record", True)
