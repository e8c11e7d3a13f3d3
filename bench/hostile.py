"""Hostile test matrix: the real status_tracker CLI against misbehaving local servers.

Every case starts the CLI as a subprocess (``sys.executable status_tracker.py ...``) next to
servers this script runs on 127.0.0.1 only: an aiohttp.web server for well-formed HTTP and
raw asyncio servers where the bytes themselves must be wrong (a Latin-1 ETag, a reset, a
request never answered). Each case pairs one bad thing with a healthy feed that gains a new
incident during the run, and judges the run only from what the process shows the world:
stdout, stderr, exit code, the state file and what the webhook receivers got.

Usage: python bench/hostile.py      (prints PASS/FAIL per case; exit 0 only if all passed)
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import contextlib
import json
import os
import re
import signal
import socket
import stat
import struct
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
TRACKER = ROOT / "status_tracker.py"
HOST = "127.0.0.1"  # the only address any case may use
# Short polls and a low ceiling on backoff, so that every watch case sees its healthy feed
# change (two polls) and a broken feed fail three times within a few seconds.
WATCH = ("--interval", "0.5", "--max-interval", "1")
WAIT = 15.0  # longest wait for an observation that normally comes within ~3 s
SIGNAL_BOUND = 2.0  # seconds SIGTERM/SIGINT may take to end the process
CASE_LIMIT = 90.0  # a hung case is cut off rather than hanging the whole matrix
HUGE_ENTRIES = 50_000
HUGE_ETAG = '"huge-1"'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


# --- Feeds ---


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    title: str
    status: str
    message: str = "Details follow."
    updated: str = "2024-05-01T12:00:00Z"


def atom(name: str, entries: Iterable[Entry]) -> bytes:
    """An Atom feed in incident.io's shape: the status is read from "<b>Status: X</b>"."""
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n'
             '<feed xmlns="http://www.w3.org/2005/Atom">'
             f"<id>urn:feed:{escape(name)}</id><title>{escape(name)}</title>"
             "<updated>2024-05-01T12:00:00Z</updated>"]
    for e in entries:
        markup = f"<b>Status: {escape(e.status)}</b>" + (
            f"<p>{escape(e.message)}</p>" if e.message else "")
        parts.append(f"<entry><id>{escape(e.id)}</id><title>{escape(e.title)}</title>"
                     f"<updated>{e.updated}</updated>"
                     f'<content type="html">{escape(markup)}</content></entry>')
    parts.append("</feed>")
    return "".join(parts).encode()


class HealthyFeed:
    """A well-behaved feed whose new incident every case must still see.

    In watch mode it gains the incident after its first answer, so the tracker must poll it
    again and report it as new. --once reads a feed once and reports only what is active on
    first sight, so there the incident is active from the start.
    """

    def __init__(self, case: str, *, once: bool = False, active: int = 0, resolved: int = 1,
                 message: str = "Nothing to see.") -> None:
        self.once = once
        self.requests = 0
        self.marker = f"HEALTHY-NEW-{case}"
        self.new_id = f"urn:healthy:{case}:new"
        # Resolved entries are the newest baseline ones, so that --history has them to show.
        base = [Entry(f"urn:healthy:{case}:active{i}", f"Ongoing {case} {i}", "Investigating",
                      message) for i in range(active)]
        base += [Entry(f"urn:healthy:{case}:old{i}", f"Old {case} {i}", "Resolved", message,
                       "2024-05-01T13:00:00Z") for i in range(resolved)]
        new = Entry(self.new_id, self.marker, "Investigating", "A new problem.",
                    "2024-05-02T12:00:00Z")
        self.before = atom(f"healthy-{case}", base)
        self.after = atom(f"healthy-{case}", [*base, new])

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        body = self.after if self.once or self.requests > 1 else self.before
        return web.Response(body=body, content_type="application/atom+xml")


class Counter:
    """A bad endpoint: a fixed reply built per request, with the requests counted."""

    def __init__(self, reply: Callable[[], web.StreamResponse]) -> None:
        self.reply = reply
        self.requests = 0

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        return self.reply()


class WebhookReceiver:
    """Records the events it accepted; `reply(n)` answers the n-th POST (default 200)."""

    def __init__(self, reply: Callable[[int], web.StreamResponse] | None = None) -> None:
        self.reply = reply or (lambda _n: web.Response(text="ok"))
        self.posts = 0
        self.events: list[dict[str, Any]] = []

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        self.posts += 1
        body = await request.read()
        response = self.reply(self.posts)
        if 200 <= response.status < 300:
            self.events.append(json.loads(body))
        return response

    def has(self, **fields: str) -> bool:
        return any(all(e.get(k) == v for k, v in fields.items()) for e in self.events)


async def hang(request: web.Request) -> web.StreamResponse:
    """Never answers; cancelled when the client gives up (handler_cancellation below)."""
    await asyncio.sleep(3600)
    return web.Response(text="too late")


_HUGE_BODY: list[bytes] = []


def huge_body() -> bytes:
    """50,000 active incidents, about 8 MB: every one the tracker reads is printed."""
    if not _HUGE_BODY:
        _HUGE_BODY.append(atom("huge", (
            Entry(f"h{i}", f"H{i}", "Open", "") for i in range(HUGE_ENTRIES))))
    return _HUGE_BODY[0]


class HugeFeed:
    """Serves the huge feed (once: later polls carry its ETag and get a 304)."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.gate = gate  # when given, the body waits for it
        self.served = 0
        self.sent = asyncio.Event()

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == HUGE_ETAG:
            return web.Response(status=304, headers={"ETag": HUGE_ETAG})
        if self.gate is not None:
            await self.gate.wait()
        body = huge_body()
        response = web.StreamResponse(headers={"ETag": HUGE_ETAG,
                                               "Content-Type": "application/atom+xml"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body)
        await response.write_eof()
        self.served += 1
        self.sent.set()
        return response


# --- Servers ---


class LocalServer:
    """One aiohttp server for every case; each case registers its own paths."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # handler_cancellation: a hanging handler ends when the tracker hangs up, and a short
        # shutdown_timeout keeps one from holding the end of the run.
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True,
                                     access_log=None)
        await self._runner.setup()
        # Bound here so that the port is known (aiohttp does not say which one it picked).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def add(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return f"http://{HOST}:{self.port}{path}"

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="no such test path")
        return await handler(request)


async def read_request(reader: asyncio.StreamReader) -> dict[str, str]:
    """Read one HTTP/1.1 request; its headers (lower-case names), body under ":body"."""
    head = await reader.readuntil(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    headers[":body"] = (await reader.readexactly(length)).decode("utf-8", "replace")
    return headers


class RawServer:
    """asyncio.start_server on 127.0.0.1 for replies aiohttp.web will not send."""

    def __init__(self, handler: RawHandler) -> None:
        self.handler = handler
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the tracker hung up: its business
        except asyncio.CancelledError:
            # Cancelled by __aexit__. Nothing awaits this connection task, and asyncio's
            # stream callback would log a cancelled one as an error.
            pass
        finally:
            self._tasks.discard(task)
            writer.transport.abort()


def raw_response(status: str, headers: Sequence[bytes], body: bytes = b"") -> bytes:
    head = [f"HTTP/1.1 {status}".encode(), *headers, f"Content-Length: {len(body)}".encode(),
            b"Connection: close"]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


# --- The tracker process ---


_PROXY_NAMES = {n for v in ("http", "https", "all", "no")
                for n in (f"{v}_proxy", f"{v.upper()}_PROXY")}


def _child_env() -> dict[str, str]:
    # A signing secret or a proxy from the caller's environment would change what a case
    # sees, and each case must run the same wherever the matrix runs.
    return {k: v for k, v in os.environ.items()
            if k != "STATUS_TRACKER_WEBHOOK_SECRET" and k not in _PROXY_NAMES}


class Tracker:
    """status_tracker.py as a subprocess; its stdout (unless redirected) and stderr are read
    continuously, so a full pipe never stalls it by accident."""

    def __init__(self, args: Sequence[str], *, cwd: Path, stdout: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.cwd = cwd
        self.env = env or {}
        self.stdout_fd = stdout
        self._out = bytearray()
        self._err = bytearray()
        self._pumps: list[asyncio.Task[None]] = []
        self.proc: asyncio.subprocess.Process | None = None
        self.started = 0.0
        self.ended: float | None = None

    async def __aenter__(self) -> Tracker:
        self.started = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(TRACKER), *self.args, cwd=self.cwd,
            env={**_child_env(), **self.env},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if self.stdout_fd is None else self.stdout_fd,
            stderr=asyncio.subprocess.PIPE)
        if self.proc.stdout is not None:
            self._pumps.append(asyncio.create_task(self._pump(self.proc.stdout, self._out)))
        assert self.proc.stderr is not None
        self._pumps.append(asyncio.create_task(self._pump(self.proc.stderr, self._err)))
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    @staticmethod
    async def _pump(stream: asyncio.StreamReader, into: bytearray) -> None:
        while chunk := await stream.read(65536):
            into.extend(chunk)

    @property
    def out_bytes(self) -> bytes:
        return bytes(self._out)

    @property
    def err_bytes(self) -> bytes:
        return bytes(self._err)

    @property
    def out(self) -> str:
        return self._out.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self._err.decode("utf-8", "replace")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def until(self, predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
        """Poll `predicate` until it holds (True), time runs out or the process ended."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            if self.proc.returncode is not None:
                # Ended: let the pumps take the last output, then judge once more.
                await asyncio.gather(*self._pumps, return_exceptions=True)
                return predicate()
            await asyncio.sleep(0.05)
        return True

    async def finish(self, timeout: float) -> int | None:
        """The exit code, or None when it had to be killed after `timeout` seconds."""
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            return None
        self.ended = time.monotonic()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        return code

    async def stop(self, signum: int = signal.SIGTERM) -> tuple[int | None, float]:
        """Send `signum`; the exit code and how long the process took to end after it."""
        assert self.proc is not None
        sent = time.monotonic()
        if self.proc.returncode is None:
            self.proc.send_signal(signum)
        code = await self.finish(10)
        return code, (self.ended or time.monotonic()) - sent

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far, all threads (/proc/PID/stat)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- Judging ---


class Check:
    """One result line: problems found make it FAIL; notes explain a PASS."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.skipped: str | None = None

    def expect(self, ok: bool, problem: str) -> bool:
        if not ok:
            self.problems.append(problem)
        return ok

    def note(self, text: str) -> None:
        self.notes.append(text)

    @property
    def verdict(self) -> str:
        return "SKIP" if self.skipped is not None else "FAIL" if self.problems else "PASS"

    def line(self) -> str:
        if self.skipped is not None:
            return f"SKIP {self.name}: {self.skipped}"
        detail = "; ".join(self.problems or self.notes) or "ok"
        return f"{self.verdict} {self.name}: {detail}"


def clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def lines_with(text: str, *words: str) -> list[str]:
    return [line for line in text.splitlines() if all(w in line for w in words)]


def first_with(text: str, word: str) -> str:
    found = lines_with(text, word)
    return clip(found[0]) if found else "(none)"


def sane(check: Check, tracker: Tracker, code: int | None, expected: int) -> None:
    """What every case asks: the expected exit code and no traceback."""
    tail = clip(" | ".join(tracker.err.splitlines()[-3:]), 240)
    check.expect(code == expected, f"exit code {code}, expected {expected} (stderr: {tail})")
    check.expect("Traceback" not in tracker.err,
                 f"traceback on stderr: {first_with(tracker.err, 'Error')}")


def reached(check: Check, tracker: Tracker, feed: HealthyFeed) -> None:
    check.expect(feed.marker in tracker.out,
                 f"the healthy feed's new incident {feed.marker} never reached stdout")


_STATS = re.compile(r"INFO (?P<name>.+?): (?P<polls>\d+) polls?, .*?(?P<errors>\d+) errors?$",
                    re.M)


def feed_stats(err: str, name: str) -> tuple[int, int] | None:
    """(polls, errors) from the per-feed summary the tracker logs when it stops."""
    for match in _STATS.finditer(err):
        if match["name"] == name:
            return int(match["polls"]), int(match["errors"])
    return None


def json_events(out: str) -> list[dict[str, Any]]:
    events = []
    for line in out.splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                events.append(value)
    return events


def snapshot(folder: Path) -> list[tuple[str, int, int, int]]:
    """Name, mode, inode and size of everything under `folder`: any create, rename or
    rewrite shows."""
    entries = []
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        entries.append((str(path.relative_to(folder)), info.st_mode, info.st_ino,
                        info.st_size))
    return entries


async def run_command(*argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    return proc.returncode or 0, out.decode(errors="replace").strip()


class FirstLineReader:
    """The read end of a pipe given to the tracker as stdout: reads until the first line,
    then closes, as `| head -1` does (the tracker's next write then fails with EPIPE)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.first = b""
        self.done = asyncio.Event()
        os.set_blocking(fd, False)
        asyncio.get_running_loop().add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            chunk = os.read(self.fd, 4096)
        except BlockingIOError:
            return
        self.first += chunk
        if b"\n" in self.first or not chunk:
            self.close()

    def close(self) -> None:
        if not self.done.is_set():
            asyncio.get_running_loop().remove_reader(self.fd)
            os.close(self.fd)
            self.done.set()


# --- The cases ---


class Matrix:
    def __init__(self, server: LocalServer, tmp: Path) -> None:
        self.server = server
        self.tmp = tmp

    def folder(self, case: str) -> Path:
        path = self.tmp / case
        path.mkdir()
        return path

    def healthy(self, case: str, **options: Any) -> tuple[HealthyFeed, str]:
        feed = HealthyFeed(case, **options)
        return feed, self.server.add(f"/{case}/healthy", feed)

    def webhook(self, case: str, receiver: WebhookReceiver) -> str:
        return self.server.add(f"/{case}/hook", receiver)

    # 1
    async def asctime_date(self) -> list[Check]:
        check = Check("01-asctime-date-expires")
        feed, url = self.healthy("c1")
        # Date in asctime form, which carries no zone, with an Expires one second later in
        # the usual IMF form, which does: read against the server's own Date, the reply stays
        # fresh for 1 s, and the two forms must be comparable.
        bad = Counter(lambda: web.Response(
            body=atom("c1-bad", [Entry("urn:c1:bad", "BAD-ACTIVE-c1", "Investigating")]),
            content_type="application/atom+xml",
            headers={"Date": "Sun Nov  6 08:49:37 1994",
                     "Expires": "Sun, 06 Nov 1994 08:49:38 GMT"}))
        bad_url = self.server.add("/c1/bad", bad)
        async with Tracker(["--feed", f"H={url}", "--feed", f"B={bad_url}", *WATCH],
                           cwd=self.folder("c1")) as t:
            check.expect(await t.until(lambda: feed.marker in t.out and bad.requests >= 3),
                         f"timed out: {bad.requests} requests to the asctime feed")
            code, _ = await t.stop()
        sane(check, t, code, 0)
        reached(check, t, feed)
        check.expect("BAD-ACTIVE-c1" in t.out, "the asctime-dated feed's incident not printed")
        problems = lines_with(t.err, "WARNING") + lines_with(t.err, "ERROR")
        check.expect(not problems, f"diagnostics for a normal feed: {clip(' | '.join(problems))}")
        stats = feed_stats(t.err, "B")
        check.expect(stats is not None and stats[1] == 0 and stats[0] >= 2,
                     f"asctime feed stats (polls, errors) = {stats}")
        check.note(f"asctime feed polled {bad.requests} times, no diagnostics")
        return [check]

    # 2
    async def retry_after_out_of_range(self) -> list[Check]:
        check = Check("02-429-retry-after-year-99999")
        feed, url = self.healthy("c2")
        bad = Counter(lambda: web.Response(
            status=429, text="slow down",
            headers={"Retry-After": "Fri, 31 Dec 99999 23:59:59 GMT"}))
        bad_url = self.server.add("/c2/bad", bad)
        async with Tracker(["--feed", f"H={url}", "--feed", f"B={bad_url}", *WATCH],
                           cwd=self.folder("c2")) as t:
            check.expect(await t.until(lambda: feed.marker in t.out and bad.requests >= 3),
                         f"timed out: the 429 feed got {bad.requests} requests, wanted >= 3")
            code, _ = await t.stop()
        sane(check, t, code, 0)
        reached(check, t, feed)
        warnings = lines_with(t.err, "WARNING", "HTTP 429")
        check.expect(len(warnings) == 1, f"{len(warnings)} WARNING lines with 'HTTP 429'")
        check.expect(not lines_with(t.err, "internal error"),
                     f"internal error: {first_with(t.err, 'internal error')}")
        check.note(f"one WARNING, the 429 feed polled {bad.requests} times")
        return [check]

    # 3
    async def webhook_superscript(self) -> list[Check]:
        check = Check("03-webhook-503-retry-after-superscript")
        feed, url = self.healthy("c3")
        posts: list[dict[str, str]] = []

        async def hook(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            request = await read_request(reader)
            posts.append(request)
            if len(posts) == 1:
                # "²" in UTF-8: str.isdigit says yes, float() says no.
                writer.write(raw_response("503 Service Unavailable",
                                          [b"Retry-After: \xc2\xb2"]))
            else:
                writer.write(raw_response("200 OK", [b"Content-Type: text/plain"], b"ok"))
            await writer.drain()

        async with RawServer(hook) as receiver, Tracker(
                ["--feed", f"H={url}", "--webhook", receiver.url("/hook"), *WATCH],
                cwd=self.folder("c3")) as t:
            def delivered() -> bool:
                return any(feed.marker in p[":body"] for p in posts[1:])

            check.expect(await t.until(delivered), f"event not delivered after {len(posts)} "
                                                   "POSTs")
            code, _ = await t.stop()
        sane(check, t, code, 0)
        reached(check, t, feed)
        check.expect(len(posts) >= 2, f"only {len(posts)} POSTs: never retried")
        check.expect(bool(lines_with(t.err, "HTTP 503", "retry")), "no retry warning for 503")
        check.note(f"retried after 503 with Retry-After: ², delivered on POST {len(posts)}")
        return [check]

    # 4
    async def latin1_etag(self) -> list[Check]:
        check = Check("04-latin1-etag-state")
        folder = self.folder("c4")
        state = folder / "state.json"
        feed, url = self.healthy("c4")
        requests: list[dict[str, str]] = []
        body = atom("c4-latin1", [Entry("urn:c4:bad", "LATIN1-ACTIVE-c4", "Investigating")])

        async def latin1(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            requests.append(await read_request(reader))
            writer.write(raw_response("200 OK", [b'ETag: "caf\xe9"',
                                                 b"Content-Type: application/atom+xml"], body))
            await writer.drain()

        async with RawServer(latin1) as bad, Tracker(
                ["--feed", f"H={url}", "--feed", f"L={bad.url('/feed')}", "--state", str(state),
                 *WATCH], cwd=folder) as t:
            check.expect(await t.until(lambda: feed.marker in t.out and len(requests) >= 3),
                         f"timed out: {len(requests)} requests to the Latin-1 feed")
            code, _ = await t.stop()
            bad_url = bad.url("/feed")
        sane(check, t, code, 0)
        reached(check, t, feed)
        check.expect("LATIN1-ACTIVE-c4" in t.out, "the Latin-1 ETag feed's incident not printed")
        check.expect(not lines_with(t.err, "cannot save"),
                     f"save failed: {first_with(t.err, 'cannot save')}")
        try:
            feeds = json.loads(state.read_text(encoding="utf-8"))["feeds"]
        except (OSError, ValueError, KeyError) as exc:
            check.expect(False, f"state file unreadable: {clip(repr(exc))}")
        else:
            check.expect(bad_url in feeds, "the Latin-1 feed is missing from the state file")
            check.expect(url in feeds, "the healthy feed is missing from the state file")
            etag = feeds.get(bad_url, {}).get("etag")
            check.expect(etag is None, f"an ETag was stored for it: {etag!r}")
        sent_back = [r["if-none-match"] for r in requests if "if-none-match" in r]
        check.expect(not sent_back, f"sent the ETag back: {clip(repr(sent_back))}")
        check.note(f"state saved, no ETag kept, {len(requests)} unconditional polls")
        return [check]

    # 5
    async def disk_full(self) -> list[Check]:
        check = Check("05-state-on-full-disk")
        disk = self.folder("c5")
        # A megabyte, filled: room, once freed, for the state file and the history beside it
        # (SQLite in WAL mode needs some 100 KB to begin: its shared-memory index and log).
        rc, why = await run_command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk))
        if rc != 0:
            check.skipped = f"cannot mount a tmpfs here: {clip(why, 100)}"
            return [check]
        try:
            await self._disk_full(check, disk)
        finally:
            rc, why = await run_command("umount", str(disk))
            if rc != 0:
                await run_command("umount", "-l", str(disk))
                check.expect(False, f"umount failed: {clip(why, 100)}")
        return [check]

    async def _disk_full(self, check: Check, disk: Path) -> None:
        state = disk / "state.json"
        filler = disk / "filler"
        with filler.open("wb", buffering=0) as handle, contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 4096)
        feed, url = self.healthy("c5")

        def saved() -> bool:
            try:
                return feed.new_id in state.read_text(encoding="utf-8")
            except OSError:
                return False

        async with Tracker(["--feed", f"H={url}", "--state", str(state), *WATCH],
                           cwd=self.tmp) as t:
            full = await t.until(lambda: "cannot save" in t.err and feed.marker in t.out)
            check.expect(full, "timed out waiting for 'cannot save' and the new incident")
            check.expect(not state.exists(), "a state file appeared on a full disk")
            filler.unlink()
            freed = time.monotonic()
            check.expect(await t.until(saved, 25), "state file not written after space freed")
            took = time.monotonic() - freed
            code, _ = await t.stop()
        sane(check, t, code, 0)
        reached(check, t, feed)
        errors = lines_with(t.err, "ERROR", "cannot save")
        check.expect(len(errors) == 1, f"{len(errors)} 'cannot save' ERROR lines")
        check.expect(bool(lines_with(t.err, "saved again")), "no 'saved again' line")
        try:
            json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            check.expect(False, f"state file not valid JSON: {clip(repr(exc))}")
        check.note(f"one ERROR; printed while full; saved {took:.1f}s after space was freed")

    # 6
    async def stdout_closed(self) -> list[Check]:
        return [await self._stdout_closed_watch(), await self._stdout_closed_once()]

    async def _stdout_closed_watch(self) -> Check:
        check = Check("06a-stdout-closed-watch")
        feed, url = self.healthy("c6a", active=1)
        receiver = WebhookReceiver()
        hook = self.webhook("c6a", receiver)
        read_end, write_end = os.pipe()
        reader = FirstLineReader(read_end)
        try:
            async with Tracker(["--feed", f"H={url}", "--webhook", hook, *WATCH],
                               cwd=self.folder("c6a"), stdout=write_end) as t:
                os.close(write_end)
                write_end = -1
                await t.until(reader.done.is_set)
                check.expect(await t.until(
                    lambda: receiver.has(title=feed.marker) and "stdout cannot" in t.err),
                    "timed out waiting for the new event at the webhook and the stdout notice")
                code, _ = await t.stop()
        finally:
            reader.close()
            if write_end >= 0:
                os.close(write_end)
        sane(check, t, code, 0)
        check.expect(receiver.has(title=feed.marker, kind="new"),
                     "the new incident never reached the webhook")
        check.expect(len(receiver.events) == 2,
                     f"webhook got {len(receiver.events)} events, expected 2 (active + new)")
        said = lines_with(t.err, "stdout cannot be written")
        check.expect(len(said) == 1, f"'stdout cannot be written' said {len(said)} times")
        first = reader.first.decode(errors="replace").partition("\n")[0]
        check.note(f"first line {clip(first, 60)!r} read; webhook got every event; "
                   "stdout loss said once")
        return check

    async def _stdout_closed_once(self) -> Check:
        check = Check("06b-stdout-closed-once")
        # ~250 KB of console blocks: far more than the pipe holds, so writes are still
        # pending when the reader closes.
        feed, url = self.healthy("c6b", once=True, active=500, resolved=0, message="m" * 300)
        receiver = WebhookReceiver()
        hook = self.webhook("c6b", receiver)
        read_end, write_end = os.pipe()
        reader = FirstLineReader(read_end)
        try:
            async with Tracker(["--once", "--feed", f"H={url}", "--webhook", hook],
                               cwd=self.folder("c6b"), stdout=write_end) as t:
                os.close(write_end)
                write_end = -1
                code = await t.finish(45)
        finally:
            reader.close()
            if write_end >= 0:
                os.close(write_end)
        sane(check, t, code, 0)
        check.expect(len(receiver.events) == 501,
                     f"webhook got {len(receiver.events)} of 501 events")
        check.expect(receiver.has(title=feed.marker), "the marker incident missed the webhook")
        said = lines_with(t.err, "stdout cannot be written")
        check.expect(len(said) == 1, f"'stdout cannot be written' said {len(said)} times")
        check.note("exit 0, webhook got all 501 events, stdout loss said once")
        return check

    # 7
    async def stdout_blocked(self) -> list[Check]:
        check = Check("07-stdout-never-read")
        feed, url = self.healthy("c7", active=300, resolved=50, message="b" * 200)
        receiver = WebhookReceiver()
        hook = self.webhook("c7", receiver)
        read_end, write_end = os.pipe()  # the read end is never read
        try:
            async with Tracker(["--feed", f"H={url}", "--webhook", hook, "--history", "50",
                                *WATCH], cwd=self.folder("c7"), stdout=write_end) as t:
                os.close(write_end)
                write_end = -1
                check.expect(await t.until(lambda: receiver.has(title=feed.marker), 40),
                             f"the new incident never reached the webhook "
                             f"({len(receiver.events)} events arrived)")
                code, took = await t.stop()
        finally:
            os.close(read_end)
            if write_end >= 0:
                os.close(write_end)
        sane(check, t, code, 0)
        check.expect(len(receiver.events) >= 351,
                     f"webhook got {len(receiver.events)} events, expected >= 351")
        check.expect(took <= SIGNAL_BOUND, f"SIGTERM took {took:.2f}s to end it")
        check.note(f"webhook got {len(receiver.events)} events; SIGTERM ended it in {took:.2f}s")
        return [check]

    # 8
    async def signal_while_hanging(self) -> list[Check]:
        # SIGTERM before every feed was read: exit 1, the one not read said so.
        return [await self._signal_once(signal.SIGTERM, 1, "08a-sigterm-once-hanging-feed"),
                await self._signal_once(signal.SIGINT, 130, "08b-sigint-once-hanging-feed")]

    async def _signal_once(self, signum: int, expected: int, name: str) -> Check:
        check = Check(name)
        case = name[:3]
        feed, url = self.healthy(case, once=True)
        asked = asyncio.Event()

        async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            asked.set()
            await asyncio.sleep(3600)

        async with RawServer(never) as bad, Tracker(
                ["--once", "--feed", f"H={url}", "--feed", f"S={bad.url('/feed')}"],
                cwd=self.folder(case)) as t:
            check.expect(await t.until(lambda: feed.marker in t.out and asked.is_set()),
                         "timed out waiting for the healthy event and the hanging request")
            code, took = await t.stop(signum)
        sane(check, t, code, expected)
        reached(check, t, feed)
        check.expect(took <= SIGNAL_BOUND, f"{signal.Signals(signum).name} took {took:.2f}s")
        if signum != signal.SIGINT:
            check.expect(bool(lines_with(t.err, "S: not read: stopped")),
                         "the feed not read was not said")
        check.note(f"{signal.Signals(signum).name} -> exit {code} in {took:.2f}s")
        return check

    # 9
    async def webhook_never_answers(self) -> list[Check]:
        check = Check("09-once-webhook-never-answers")
        feed, url = self.healthy("c9", once=True)
        hook = self.server.add("/c9/hook", hang)
        async with Tracker(["--once", "--feed", f"H={url}", "--webhook", hook],
                           cwd=self.folder("c9")) as t:
            code = await t.finish(60)
            took = (t.ended or time.monotonic()) - t.started
        # Without --state nothing keeps the undelivered event for a next run: exit 1.
        sane(check, t, code, 1)
        reached(check, t, feed)
        check.expect(bool(lines_with(t.err, "still queued and lost")),
                     "the lost event was not said")
        check.expect(took < 40, f"took {took:.1f}s, bound is < 40s")
        check.note(f"exit 1 (an event was lost) after {took:.1f}s")
        return [check]

    # 10
    async def unconditional_304(self) -> list[Check]:
        check = Check("10-304-without-validators")
        feed, url = self.healthy("c10")
        bad = Counter(lambda: web.Response(status=304))
        bad_url = self.server.add("/c10/bad", bad)
        async with Tracker(["--feed", f"H={url}", "--feed", f"N={bad_url}", *WATCH],
                           cwd=self.folder("c10")) as t:
            check.expect(await t.until(lambda: feed.marker in t.out and "feed down" in t.out),
                         f"timed out: no 'feed down' after {bad.requests} polls")
            code, _ = await t.stop()
        sane(check, t, code, 0)
        reached(check, t, feed)
        warned = lines_with(t.err, "WARNING", "server answered 304 to an unconditional request")
        check.expect(len(warned) == 1, f"{len(warned)} WARNING lines about the 304")
        down = re.search(r"Product: N - feed down\n  Error: +server answered 304", t.out)
        check.expect(down is not None, "no 'N - feed down' block naming the 304")
        check.expect(bad.requests >= 3, f"feed down after only {bad.requests} polls")
        check.note(f"one WARNING; feed down after {bad.requests} polls")
        return [check]

    # 11
    async def huge_feed(self) -> list[Check]:
        return [await self._huge_cpu(), await self._huge_sigterm()]

    async def _huge_cpu(self) -> Check:
        check = Check("11a-huge-feed-cpu")
        feed, url = self.healthy("c11a")
        huge = HugeFeed()
        huge_url = self.server.add("/c11a/huge", huge)
        async with Tracker(["--json", "--feed", f"H={url}", "--feed", f"Huge={huge_url}",
                            *WATCH], cwd=self.folder("c11a")) as t:
            check.expect(await t.until(
                lambda: feed.marker in t.out and "Huge: " in t.err and "incidents" in t.err,
                30), "timed out waiting for the huge feed's parse and the new incident")
            cpu = t.cpu_seconds()
            code, _ = await t.stop()
        sane(check, t, code, 0)
        reached(check, t, feed)
        active = [e for e in json_events(t.out) if e.get("feed") == "Huge"]
        check.expect(len(active) == 1000,
                     f"{len(active)} events from the huge feed, expected its first 1000")
        check.expect(cpu < 5.0, f"{cpu:.2f}s of CPU, expected well under 10s")
        check.note(f"{len(huge_body()) / 1e6:.1f} MB, {HUGE_ENTRIES} entries: "
                   f"{len(active)} reported, {cpu:.2f}s CPU in all, served {huge.served}x")
        return check

    async def _huge_sigterm(self) -> Check:
        check = Check("11b-huge-feed-sigterm-while-parsing")
        feed, url = self.healthy("c11b")
        gate = asyncio.Event()
        huge = HugeFeed(gate)
        huge_url = self.server.add("/c11b/huge", huge)
        async with Tracker(["--json", "--feed", f"H={url}", "--feed", f"Huge={huge_url}",
                            *WATCH], cwd=self.folder("c11b")) as t:
            # The healthy incident first, then the huge body, then SIGTERM mid-parse
            # (a parse of the first 1,000 entries takes about half a second of CPU).
            check.expect(await t.until(lambda: feed.marker in t.out),
                         "the healthy feed's new incident never came")
            gate.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(huge.sent.wait(), 20)
            check.expect(huge.sent.is_set(), "the huge body was never sent")
            await asyncio.sleep(0.1)
            parsed_before = "Huge: " in t.err
            code, took = await t.stop()
        sane(check, t, code, 0)
        reached(check, t, feed)
        check.expect(not parsed_before,
                     "the parse had finished before SIGTERM: case not exercised (script timing)")
        check.expect(took <= SIGNAL_BOUND, f"SIGTERM during the parse took {took:.2f}s")
        check.note(f"SIGTERM mid-parse -> exit {code} in {took:.2f}s")
        return check

    # 12
    async def bad_arguments(self) -> list[Check]:
        _, url = self.healthy("c12", once=True)
        base = ["--once", "--feed", f"H={url}"]
        checks = []

        async def refused(name: str, args: Sequence[str], folder: Path,
                          watch: Sequence[Path] = (), secrets: Sequence[str] = ()) -> None:
            check = Check(f"12-{name}")
            before = [snapshot(p) for p in (folder, *watch)]
            started = time.monotonic()
            async with Tracker([*base, *args], cwd=folder) as t:
                code = await t.finish(10)
            took = time.monotonic() - started
            sane(check, t, code, 2)
            lines = t.err.splitlines()
            check.expect(len(lines) == 1,
                         f"{len(lines)} stderr lines, expected 1: {clip(' | '.join(lines))}")
            check.expect([snapshot(p) for p in (folder, *watch)] == before,
                         "files were created, renamed or changed")
            check.expect(took < 5, f"took {took:.1f}s to refuse")
            for secret in secrets:
                check.expect(secret not in t.err, f"stderr shows {secret!r}")
            check.note(clip(lines[-1] if lines else "", 110))
            checks.append(check)

        root = self.folder("c12")

        def sub(name: str) -> Path:
            path = root / name
            path.mkdir()
            return path

        await self._state_dev_null(refused, sub("devnull"), checks)
        folder = sub("dir")
        (folder / "adir").mkdir()
        await refused("state-directory", ["--state", str(folder / "adir")], folder)
        folder = sub("fifo")
        os.mkfifo(folder / "s.json")
        await refused("state-fifo", ["--state", str(folder / "s.json")], folder)
        folder = sub("missing")
        await refused("state-missing-folders", ["--state", str(folder / "no" / "pe" / "s.json")],
                      folder)
        folder = sub("toml")
        toml = folder / "settings.toml"
        toml.write_text('interval = 30\n[[feeds]]\nname = "X"\nurl = "http://127.0.0.1/"\n')
        await refused("state-toml-file", ["--state", str(toml)], folder)
        folder = sub("cfgfifo")
        os.mkfifo(folder / "c.toml")
        await refused("config-fifo", ["--config", str(folder / "c.toml")], folder)
        await refused("config-dev-zero", ["--config", "/dev/zero"], sub("cfgzero"))
        await refused("interval-zero", ["--interval", "0"], sub("interval"))
        await refused("feed-bad-port", ["--feed", f"A=http://{HOST}:99999/x"], sub("port"))
        same = f"http://{HOST}:{self.server.port}/c12/dup"
        await refused("same-url-two-names", ["--feed", f"A={same}", "--feed", f"B={same}"],
                      sub("dup"))
        await refused("webhook-bad-port-secret",
                      ["--webhook", "http://h:99999/TOKEN?key=SECRET"], sub("hook"),
                      secrets=("TOKEN", "SECRET"))
        return checks

    @staticmethod
    async def _state_dev_null(refused: Callable[..., Awaitable[None]], folder: Path,
                              checks: list[Check]) -> None:
        """--state on a null device: a node of the case's own (the machine's /dev/null is
        never given, so a tracker that set its state path aside could not break the host)."""
        folder.mkdir(parents=True, exist_ok=True)
        node = folder / "null"
        try:
            os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            check = Check("12-state-dev-null")
            check.skipped = "making a device node needs root"
            checks.append(check)
            return
        await refused("state-dev-null", ["--state", str(node)], folder)
        check = checks[-1]
        check.expect(stat.S_ISCHR(node.lstat().st_mode), "the device node was replaced")

    # 13
    async def config_bom(self) -> list[Check]:
        check = Check("13-config-with-bom")
        folder = self.folder("c13")
        feed, url = self.healthy("c13", once=True)
        config = folder / "bom.toml"
        config.write_bytes("\ufeff".encode() + f'[[feeds]]\nname = "H"\nurl = "{url}"\n'.encode())
        async with Tracker(["--once", "--config", str(config)], cwd=folder) as t:
            code = await t.finish(30)
        sane(check, t, code, 0)
        reached(check, t, feed)
        check.note("accepted; feed read")
        return [check]

    # 14
    async def evil_name(self) -> list[Check]:
        check = Check("14-feed-name-with-newline-and-escape")
        feed, url = self.healthy("c14")
        bad = Counter(lambda: web.Response(status=500, text="broken"))
        bad_url = self.server.add("/c14/evil", bad)
        name = "Evil\n[x] FAKE\x1b[31m"
        async with Tracker(["--feed", f"H={url}", "--feed", f"{name}={bad_url}", *WATCH],
                           cwd=self.folder("c14")) as t:
            check.expect(await t.until(lambda: feed.marker in t.out and "feed down" in t.out),
                         "timed out waiting for the evil feed's 'feed down'")
            code, _ = await t.stop()
        sane(check, t, code, 0)
        reached(check, t, feed)
        for stream, data in (("stdout", t.out_bytes), ("stderr", t.err_bytes)):
            check.expect(b"\x1b" not in data, f"raw ESC byte on {stream}")
            forged = re.search(rb"(?m)^\[x\] FAKE", data)
            check.expect(forged is None, f"a forged '[x] FAKE' line on {stream}")
        check.expect("Evil [x] FAKE" in t.out and "Evil [x] FAKE" in t.err,
                     "the cleaned name was not shown on both streams")
        check.note("name shown as 'Evil [x] FAKE' on both streams; no ESC, no forged line")
        return [check]

    # 15
    async def cron_mode(self) -> list[Check]:
        check = Check("15-cron-feed-down-and-recovered")
        folder = self.folder("c15")
        state = folder / "state.json"
        feed, url = self.healthy("c15")
        failing = [True]
        recovered = atom("c15-bad", [Entry("urn:c15:bad", "Fixed", "Resolved")])
        bad = Counter(lambda: web.Response(status=500, text="down") if failing[0] else
                      web.Response(body=recovered, content_type="application/atom+xml"))
        bad_url = self.server.add("/c15/bad", bad)
        receiver = WebhookReceiver()
        hook = self.webhook("c15", receiver)
        args = ["--once", "--state", str(state), "--feed", f"H={url}", "--feed", f"B={bad_url}",
                "--webhook", hook]
        outs = []
        for run in range(1, 5):
            if run == 4:
                failing[0] = False
            async with Tracker(args, cwd=folder) as t:
                code = await t.finish(45)
            sane(check, t, code, 0 if run == 4 else 1)
            outs.append(t.out)
            check.expect(("feed down" in t.out) == (run == 3),
                         f"run {run}: 'feed down' {'missing' if run == 3 else 'printed'}")
        reached_at = [i + 1 for i, out in enumerate(outs) if feed.marker in out]
        check.expect(reached_at == [2], f"healthy new incident printed in runs {reached_at}, "
                                        "expected run 2")
        check.expect("feed recovered" in outs[3], "run 4 printed no 'feed recovered'")
        check.expect(receiver.has(kind="feed_down", feed="B"), "webhook got no feed_down")
        check.expect(receiver.has(kind="feed_recovered", feed="B"),
                     "webhook got no feed_recovered")
        check.note("feed down on run 3 (stdout + webhook), recovered on run 4")
        return [check]

    # 16
    async def webhook_404(self) -> list[Check]:
        check = Check("16-once-webhook-404")
        feed, url = self.healthy("c16", once=True)
        receiver = WebhookReceiver(lambda _n: web.Response(status=404, text="no such hook"))
        hook = self.webhook("c16", receiver)
        async with Tracker(["--once", "--feed", f"H={url}", "--webhook", hook],
                           cwd=self.folder("c16")) as t:
            code = await t.finish(45)
        sane(check, t, code, 1)
        reached(check, t, feed)
        rejected = lines_with(t.err, "ERROR", "HTTP 404")
        check.expect(len(rejected) == 1, f"{len(rejected)} ERROR lines about the 404")
        check.note(clip(rejected[0] if rejected else "", 110))
        return [check]

    # 17
    async def secrets_in_urls(self) -> list[Check]:
        check = Check("17-no-url-secrets-in-messages")
        feed, url = self.healthy("c17")
        failing = Counter(lambda: web.Response(status=500, text="secretpath SECRET"))
        self.server.add("/c17/secretpath", failing)
        # A webhook URL holds its token in the path or query: its failures must not show it.
        receiver = WebhookReceiver(lambda _n: web.Response(status=500, text="down"))
        self.server.add("/c17/secretpath-hook", receiver)
        hook = (f"http://user:pw@{HOST}:{self.server.port}/c17/secretpath-hook?token=SECRET"
                "#fragSECRET")
        resets = [0]

        async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            resets[0] += 1
            # SO_LINGER 0: close() sends an RST instead of a FIN.
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        async with RawServer(reset) as raw:
            five = (f"http://user:pw@{HOST}:{self.server.port}/c17/secretpath?token=SECRET"
                    "#fragSECRET")
            rst = f"http://user:pw@{HOST}:{raw.port}/secretpath?token=SECRET#fragSECRET"
            async with Tracker(["--feed", f"H={url}", "--feed", f"A={five}", "--feed",
                                f"R={rst}", "--webhook", hook, *WATCH],
                               cwd=self.folder("c17")) as t:
                check.expect(await t.until(
                    lambda: feed.marker in t.out and t.out.count("feed down") >= 2
                    and receiver.posts >= 2),
                    f"timed out: {failing.requests} 500s, {resets[0]} resets, "
                    f"{receiver.posts} webhook POSTs")
                code, _ = await t.stop()
        sane(check, t, code, 0)
        reached(check, t, feed)
        for stream, text in (("stderr", t.err), ("stdout", t.out)):
            for secret in ("secretpath", "SECRET", "pw", "token"):
                check.expect(secret not in text,
                             f"{stream} shows {secret!r}: {first_with(text, secret)}")
        check.expect(bool(lines_with(t.err, "webhook", "HTTP 500")),
                     "the webhook's 500 was not reported")
        check.note(f"{failing.requests} feed 500s, {resets[0]} resets, {receiver.posts} webhook "
                   "500s reported without the URL")
        return [check]


    # 18
    async def through_a_proxy(self) -> list[Check]:
        up = Check("18a-proxy-from-the-environment-with-credentials")
        down = Check("18b-proxy-down-is-named-not-the-feed")
        feed, url = self.healthy("c18")
        seen: list[str] = []
        credentials = "Basic " + base64.b64encode(b"ops:pr0xyPW").decode()

        async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # A forward proxy of a few lines: it reads the absolute URL, checks the
            # credentials, and answers from the local server itself.
            head = await reader.readuntil(b"\r\n\r\n")
            line, *rest = head.decode("latin-1").split("\r\n")
            target = line.split(" ")[1]
            given = next((h.split(":", 1)[1].strip() for h in rest
                          if h.lower().startswith("proxy-authorization:")), "")
            seen.append(target)
            if given != credentials:
                writer.write(raw_response("407 Proxy Authentication Required", []))
            else:
                async with aiohttp.ClientSession() as session, session.get(target) as reply:
                    writer.write(raw_response(f"{reply.status} {reply.reason}", [
                        b"Content-Type: " + reply.content_type.encode()], await reply.read()))
            await writer.drain()

        async with RawServer(proxy) as px:
            env = {"HTTP_PROXY": f"http://ops:pr0xyPW@{HOST}:{px.port}"}
            async with Tracker(["--feed", f"H={url}", *WATCH], cwd=self.folder("c18a"),
                               env=env) as t:
                up.expect(await t.until(lambda: feed.marker in t.out),
                          f"the healthy feed never came through the proxy ({len(seen)} asked)")
                code, _ = await t.stop()
            sane(up, t, code, 0)
            up.expect(bool(seen) and all(u == url for u in seen),
                      f"the proxy saw {seen[:2]}, not the feed")
            up.expect("pr0xyPW" not in t.err + t.out, "the proxy password was shown")
            up.expect(bool(lines_with(t.err, f"through proxy http://{HOST}:{px.port}")),
                      "the startup lines do not say which proxy")
            up.note(f"{len(seen)} requests through the proxy, its password never shown")
        dead = f"http://ops:pr0xyPW@{HOST}:9"
        async with Tracker(["--once", "--feed", f"H={url}"], cwd=self.folder("c18b"),
                           env={"HTTP_PROXY": dead}) as t:
            code = await t.finish(30)
        sane(down, t, code, 1)
        said = lines_with(t.err, f"cannot connect to proxy http://{HOST}:9: connection refused")
        down.expect(len(said) == 1, f"the dead proxy was said {len(said)} times: "
                                    f"{first_with(t.err, 'WARNING')}")
        down.expect("pr0xyPW" not in t.err, "the proxy password was shown")
        down.note("the error names the proxy (scheme, host, port)")
        return [up, down]

    # 19
    async def sighup(self) -> list[Check]:
        plain = Check("19a-sighup-without-config-is-a-clean-stop")
        folder = self.folder("c19")
        feed, url = self.healthy("c19")
        state = folder / "state.json"
        async with Tracker(["--feed", f"H={url}", "--state", str(state), *WATCH],
                           cwd=folder) as t:
            plain.expect(await t.until(lambda: feed.marker in t.out), "no new incident")
            code, took = await t.stop(signal.SIGHUP)
        sane(plain, t, code, 0)
        plain.expect(feed_stats(t.err, "H") is not None, "no summary line for the feed")
        plain.expect(state.exists() and feed.new_id in state.read_text(),
                     "the state file does not hold the new incident")
        plain.expect(took <= SIGNAL_BOUND, f"SIGHUP took {took:.2f}s")
        plain.note(f"exit 0 in {took:.2f}s, summary and state written")

        reload = Check("19b-sighup-with-config-reloads")
        first, first_url = self.healthy("c19b")
        added, added_url = self.healthy("c19c", once=True)
        config = folder / "tracker.toml"
        config.write_text(f'interval = 0.5\nmax_interval = 1\n[[feeds]]\nname = "H"\n'
                          f'url = "{first_url}"\n')
        async with Tracker(["--config", str(config)], cwd=folder) as t:
            reload.expect(await t.until(lambda: first.marker in t.out),
                          "the first feed's new incident was not read")
            config.write_text(config.read_text() + f'[[feeds]]\nname = "A"\nurl = '
                                                   f'"{added_url}"\n')
            assert t.proc is not None
            t.proc.send_signal(signal.SIGHUP)
            reload.expect(await t.until(lambda: added.marker in t.out),
                          "the feed added by the reload was never read")
            code, _ = await t.stop()
        sane(reload, t, code, 0)
        reload.expect(t.out.count(added.marker) == 1, "the added feed's incident printed "
                                                      f"{t.out.count(added.marker)} times")
        reload.expect(t.out.count(first.marker) == 1, "the first feed's incident printed "
                                                      f"{t.out.count(first.marker)} times")
        reload.expect(bool(lines_with(t.err, "reload:", "1 feed started")),
                      "the reload was not said")
        reload.note("a feed added to the config started on SIGHUP, nothing said twice")
        return [plain, reload]

    # 20
    async def utf16_feeds(self) -> list[Check]:
        check = Check("20-utf16-feeds")
        feed, url = self.healthy("c20", once=True)
        many = [Entry(f"urn:c20:{i}", f"Wide {i} – ü", "Investigating", "") for i in range(4000)]
        body = codecs.BOM_UTF16_LE + atom("c20-wide", many).split(b"?>", 1)[1].decode(
        ).encode("utf-16-le")  # a byte order mark and no XML declaration
        wide_url = self.server.add("/c20/wide", Counter(lambda: web.Response(
            body=body, content_type="application/atom+xml")))
        async with Tracker(["--once", "--json", "--feed", f"H={url}", "--feed",
                            f"W={wide_url}"], cwd=self.folder("c20")) as t:
            code = await t.finish(60)
        sane(check, t, code, 0)
        reached(check, t, feed)
        wide = [e for e in json_events(t.out) if e.get("feed") == "W"]
        check.expect(len(wide) == 1000, f"{len(wide)} events from the 4,000-entry UTF-16 feed, "
                                        "expected the 1,000 the entry cap allows")
        check.expect(all(e["title"].endswith(" – ü") for e in wide), "titles decoded wrongly")
        check.note(f"{len(wide)} of 4,000 entries read (the cap), text decoded")
        return [check]

    # 21
    async def state_file_paths(self) -> list[Check]:
        linked = Check("21a-state-symlink-stays-a-symlink")
        folder = self.folder("c21")
        (folder / "real").mkdir()
        target = folder / "real" / "state.json"
        link = folder / "state.json"
        link.symlink_to(target)
        feed, url = self.healthy("c21", once=True)
        for _ in range(2):
            async with Tracker(["--once", "--state", str(link), "--feed", f"H={url}"],
                               cwd=folder) as t:
                code = await t.finish(30)
            sane(linked, t, code, 0)
        linked.expect(link.is_symlink(), "the symlink was replaced by a file")
        linked.expect(target.exists() and feed.new_id in target.read_text(),
                      "the symlink's target does not hold the state")
        linked.expect((folder / "real" / "state.json.lock").exists(),
                      "the lock is not beside the target")
        linked.note("written through the symlink, lock beside the target")
        newer = Check("21b-newer-state-refused-untouched")
        future = folder / "future.json"
        future.write_text('{"version": 99, "feeds": {}, "outbox": {"x": [{"event_id": 1}]}}')
        before = snapshot(folder)
        async with Tracker(["--once", "--state", str(future), "--feed", f"H={url}"],
                           cwd=folder) as t:
            code = await t.finish(30)
        sane(newer, t, code, 2)
        newer.expect(len(t.err.strip().splitlines()) == 1, f"stderr: {clip(t.err)}")
        after = [e for e in snapshot(folder) if e[0] != "future.json.lock"]
        newer.expect(after == before, "the folder changed")
        newer.note(f"exit 2: {clip(t.err.strip(), 100)}")
        return [linked, newer]


# --- Running ---


async def guarded(name: str, case: Callable[[], Awaitable[list[Check]]]) -> list[Check]:
    """A case that breaks or hangs is one FAIL line, never the end of the matrix."""
    try:
        return await asyncio.wait_for(case(), CASE_LIMIT)
    except TimeoutError:
        failed = Check(name)
        failed.expect(False, f"case did not finish within {CASE_LIMIT:g}s")
        return [failed]
    except Exception as exc:
        failed = Check(name)
        failed.expect(False, f"script error: {clip(repr(exc), 200)}")
        return [failed]


async def main() -> int:
    if not sys.platform.startswith("linux"):
        print("hostile matrix: needs Linux (/proc, os.pipe semantics, tmpfs)")
        return 1
    server = LocalServer()
    await server.start()
    checks: list[Check] = []
    try:
        with tempfile.TemporaryDirectory(prefix="hostile.") as tmp:
            matrix = Matrix(server, Path(tmp))
            # Case 9 waits ~31 s doing nothing: run it beside the others, report it in order.
            slow = asyncio.create_task(guarded("09", matrix.webhook_never_answers))
            cases: list[tuple[str, Callable[[], Awaitable[list[Check]]]]] = [
                ("01", matrix.asctime_date), ("02", matrix.retry_after_out_of_range),
                ("03", matrix.webhook_superscript), ("04", matrix.latin1_etag),
                ("05", matrix.disk_full), ("06", matrix.stdout_closed),
                ("07", matrix.stdout_blocked), ("08", matrix.signal_while_hanging),
                ("09", lambda: slow), ("10", matrix.unconditional_304),
                ("11", matrix.huge_feed), ("12", matrix.bad_arguments),
                ("13", matrix.config_bom), ("14", matrix.evil_name),
                ("15", matrix.cron_mode), ("16", matrix.webhook_404),
                ("17", matrix.secrets_in_urls), ("18", matrix.through_a_proxy),
                ("19", matrix.sighup), ("20", matrix.utf16_feeds),
                ("21", matrix.state_file_paths),
            ]
            for name, case in cases:
                results = await guarded(name, case)
                for check in results:
                    print(check.line(), flush=True)
                checks.extend(results)
    finally:
        await server.stop()
    passed = sum(c.verdict == "PASS" for c in checks)
    failed = sum(c.verdict == "FAIL" for c in checks)
    skipped = sum(c.verdict == "SKIP" for c in checks)
    if skipped:
        print(f"skipped: {skipped} (not counted as passed or failed)")
    print(f"hostile matrix: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
