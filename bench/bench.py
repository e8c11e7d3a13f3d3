"""Benchmark: status_tracker against the naive poller and the floor, on one local server.

One run starts an aiohttp.web server on 127.0.0.1 (in its own process) serving N synthetic
status feeds, half Statuspage-like (25 entries, weak ETag, 304 on If-None-Match, max-age, at
/sp/<i>/history.atom with the page's JSON API beside it: /sp/<i>/api/v2/incidents.json and
scheduled-maintenances.json) and half incident.io-like (25 entries, no validators, the
feed-level <updated> re-stamped on every request), each 20-60 KB. Then, each in a fresh
process of its own so CPU time and peak RSS belong to it alone, it runs:

* tracker -- status_tracker's own StatusPageMonitors: a cold first read of a sample of feeds,
  K quiet poll cycles over every feed, then real run loops while a few feeds change, timing
  how long each change takes to reach the callback;
* floor   -- a bare aiohttp loop doing only conditional GETs with the same session settings
  and the same per-host limit: the least work any poller can do;
* naive   -- what a user would write first: plain GET + feedparser.parse every cycle (run on
  the sample of feeds, reported per feed and scaled to N, since it costs ~40 ms per feed).

Usage: python bench/bench.py [--feeds N] [--cycles K]
       python bench/bench.py --big   # the CLI at 10,000 feeds, --interval 60: RSS, schedule,
                                     # stop, warm and cold (~10 min)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import io
import itertools
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import feedparser
from aiohttp import web

# The project root is not a package: make status_tracker importable from bench/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import status_tracker as st

ENTRIES = 25
MAX_AGE = 2  # seconds; real Statuspage sends 10, shortened so detection fits in the run
WORDS = ("api", "requests", "error", "elevated", "latency", "investigating", "customers",
         "region", "database", "deploy", "rollback", "monitoring", "queue", "workers",
         "webhooks", "degraded", "partial", "outage", "mitigation", "engineers", "dashboard",
         "recovery")


# --- Synthetic feeds in the real shapes ---


def _text(rng: random.Random, length: int) -> str:
    words: list[str] = []
    size = 0
    while size < length:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words).capitalize() + "."


def _entry_budget(i: int) -> int:
    """Bytes of text per entry so that the feed lands between 20 and 60 KB."""
    target = 20_000 + (i * 7919) % 40_000
    return max(200, target // ENTRIES - 450)


def statuspage_feed(i: int, version: int) -> bytes:
    rng = random.Random(i * 1000 + version)
    base = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=i % 500)
    entries = []
    for n in range(version, version + ENTRIES):
        number = 1_000_000 - n
        when = base - timedelta(hours=n * 7)
        steps = []
        for s, status in enumerate(("Resolved", "Monitoring", "Identified", "Investigating")
                                   [: 2 + n % 3]):
            at = when - timedelta(minutes=20 * s)
            steps.append(f"&lt;p&gt;&lt;small&gt;{at:%b} &lt;var data-var='date'&gt;{at.day}"
                         f"&lt;/var&gt;, &lt;var data-var='time'&gt;{at:%H:%M}&lt;/var&gt; UTC"
                         f"&lt;/small&gt;&lt;br&gt;&lt;strong&gt;{status}&lt;/strong&gt; - "
                         f"{_text(rng, _entry_budget(i) // 4)}&lt;/p&gt;")
        entries.append(
            f"<entry><id>tag:sp{i}.bench.test,2005:Incident/{number}</id>"
            f"<published>{when - timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}</published>"
            f"<updated>{when:%Y-%m-%dT%H:%M:%SZ}</updated>"
            f'<link rel="alternate" type="text/html" href="https://sp{i}.bench.test/incidents/'
            f'{number}"/><title>{_text(rng, 40)}</title><content type="html">'
            + "".join(steps) + "</content></entry>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xml:lang="en-US" '
            f'xmlns="http://www.w3.org/2005/Atom"><id>tag:sp{i}.bench.test,2005:/history</id>'
            f"<title>Bench {i} Status - Incident History</title>"
            f"<updated>{base:%Y-%m-%dT%H:%M:%SZ}</updated>\n" + "\n".join(entries)
            + "\n</feed>\n").encode()


def statuspage_api(i: int, version: int, key: str) -> bytes:
    """The page's API body: its incidents (by the codes in the feed's links), or its (empty)
    maintenance list."""
    if key == "scheduled_maintenances":
        return json.dumps({"page": {"id": f"sp{i}"}, key: []}).encode()
    items = [{"id": str(1_000_000 - n), "name": f"Incident {n}", "status": "resolved",
              "impact": ("minor", "major", "critical")[n % 3],
              "components": [{"id": "c1", "name": "API", "status": "operational"}],
              "incident_updates": [{"status": "resolved", "body": "Resolved.",
                                    "created_at": "2026-11-01T00:00:00Z",
                                    "affected_components": [{"code": "c1", "name": "API",
                                                             "old_status": "major_outage",
                                                             "new_status": "operational"}]}]}
             for n in range(version, version + ENTRIES)]
    return json.dumps({"page": {"id": f"sp{i}"}, key: items}).encode()


def incidentio_parts(i: int, version: int) -> tuple[bytes, bytes]:
    """The feed split around its feed-level timestamp, which the server re-stamps each time."""
    rng = random.Random(i * 1000 + version + 500)
    base = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=i % 500)
    entries = []
    for n in range(version, version + ENTRIES):
        ulid = f"01K{i:07d}{1_000_000 - n:07d}"
        status = "Investigating" if n == version and version else "Resolved"
        html = (f"<b>Status: {status}</b><br/><br/>{_text(rng, _entry_budget(i) // 2)}<br/><br/>"
                "<b>Affected components</b><ul><li>Conversations (Operational)</li>"
                "<li>API (Operational)</li></ul>")
        when = base - timedelta(hours=n * 7)
        entries.append(
            f'<entry><title type="html"><![CDATA[{_text(rng, 40)}]]></title>'
            f"<id>https://io{i}.bench.test//incidents/{ulid}</id>"
            f'<link href="https://io{i}.bench.test//incidents/{ulid}"/>'
            f"<updated>{when:%Y-%m-%dT%H:%M:%S}.000Z</updated>"
            f'<summary type="html"><![CDATA[{html}]]></summary>'
            f'<content type="html"><![CDATA[{html}]]></content></entry>')
    head = ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<id>https://io{i}.bench.test/</id><title>Bench {i} status</title><updated>")
    tail = ("</updated><generator>incident.io</generator>\n" + "\n".join(entries)
            + "\n</feed>\n")
    return head.encode(), tail.encode()


# --- The server (its own process) ---


class FeedFarm:
    def __init__(self, feeds: int) -> None:
        self.half = feeds // 2
        self.version: dict[str, int] = {}
        self.sp: dict[int, bytes] = {}
        self.io: dict[int, tuple[bytes, bytes]] = {}
        self.api_requests = 0
        self.hits: dict[str, int] = {}  # requests per feed path
        self.times: dict[str, list[float]] = {}  # when each feed path was requested (epoch s)

    def hit(self, path: str) -> None:
        self.hits[path] = self.hits.get(path, 0) + 1
        self.times.setdefault(path, []).append(time.time())

    def sp_body(self, i: int) -> tuple[bytes, str]:
        version = self.version.get(f"sp{i}", 0)
        if i not in self.sp:
            self.sp[i] = statuspage_feed(i, version)
        return self.sp[i], f'W/"sp-{i}-{version}"'

    def io_body(self, i: int) -> bytes:
        if i not in self.io:
            self.io[i] = incidentio_parts(i, self.version.get(f"io{i}", 0))
        head, tail = self.io[i]
        return head + datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode() + tail

    async def statuspage(self, request: web.Request) -> web.Response:
        self.hit(request.path)
        body, etag = self.sp_body(int(request.match_info["i"]))
        headers = {"ETag": etag, "Content-Type": "application/atom+xml"}
        if not request.path.startswith("/spq/"):  # /spq/: the same feed without max-age
            headers["Cache-Control"] = f"max-age={MAX_AGE}"
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers=headers)

    async def api(self, request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        key = ("incidents" if request.match_info["doc"] == "incidents"
               else "scheduled_maintenances")
        version = self.version.get(f"sp{i}", 0)
        etag = f'W/"api-{i}-{key}-{version}"'
        self.api_requests += 1
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=statuspage_api(i, version, key),
                            headers={"ETag": etag, "Content-Type": "application/json"})

    async def count(self, request: web.Request) -> web.Response:
        return web.json_response({"api_requests": self.api_requests, "hits": self.hits})

    async def poll_times(self, request: web.Request) -> web.Response:
        return web.json_response(self.times)

    async def incidentio(self, request: web.Request) -> web.Response:
        self.hit(request.path)
        return web.Response(body=self.io_body(int(request.match_info["i"])),
                            headers={"Cache-Control": "public",
                                     "Content-Type": "application/atom+xml"})

    async def change(self, request: web.Request) -> web.Response:
        kind, i = request.match_info["kind"].removesuffix("q"), int(request.match_info["i"])
        self.version[f"{kind}{i}"] = self.version.get(f"{kind}{i}", 0) + 1
        if kind == "sp":
            self.sp.pop(i, None)
        else:
            self.io.pop(i, None)
        return web.Response(text="ok")

    async def meta(self, request: web.Request) -> web.Response:
        """Validators and fingerprints, so a client can start warm as after a restart."""
        sp = {i: [self.sp_body(i)[1], st.body_fingerprint(self.sp_body(i)[0])]
              for i in range(self.half)}
        io_ = {i: st.body_fingerprint(self.io_body(i)) for i in range(self.half)}
        return web.json_response({"sp": sp, "io": io_})


def serve(feeds: int, port_queue: Any) -> None:
    farm = FeedFarm(feeds)
    app = web.Application()
    app.router.add_get("/sp/{i}/history.atom", farm.statuspage)
    app.router.add_get("/spq/{i}/history.atom", farm.statuspage)
    app.router.add_get("/sp/{i}/api/v2/{doc}.json", farm.api)
    app.router.add_get("/spq/{i}/api/v2/{doc}.json", farm.api)
    app.router.add_get("/api-requests", farm.count)
    app.router.add_get("/poll-times", farm.poll_times)
    app.router.add_get("/io/{i}", farm.incidentio)
    app.router.add_post("/change/{kind}/{i}", farm.change)
    app.router.add_get("/meta", farm.meta)

    async def start() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(start())


# --- Measuring ---

# The CPUs this bench may use, read once (a pinned child would read only its own).
_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pin(pid: int | None, *, contender: bool) -> None:
    """Keep the server on the first CPU and each contender on the others, as on a real host,
    where the status page runs elsewhere: a contender then never shares a core with the
    server it polls, its CPU time is its own work rather than its turns on a busy core, and
    repeats agree more closely. Linux only, and only with two CPUs or more; elsewhere
    everything runs where the OS puts it."""
    if len(_CPUS) < 2 or pid is None:
        return
    with contextlib.suppress(OSError):  # a process that has just exited
        os.sched_setaffinity(pid, set(_CPUS[1:]) if contender else {_CPUS[0]})


def peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@dataclass
class Cycle:
    cpu: float
    wall: float


async def measure(step: Callable[[], Awaitable[Any]]) -> Cycle:
    cpu, wall = time.process_time(), time.perf_counter()
    await step()
    return Cycle(time.process_time() - cpu, time.perf_counter() - wall)


class Floor:
    """The least work a poller can do: conditional GETs, the body read, nothing else."""

    def __init__(self, session: aiohttp.ClientSession, limiter: st.HostLimiter) -> None:
        self.session = session
        self.limiter = limiter
        self.etags: dict[str, str] = {}
        self.received = 0

    async def get(self, url: str) -> None:
        headers = dict(st.REQUEST_HEADERS)
        if url in self.etags:
            headers["If-None-Match"] = self.etags[url]
        async with self.limiter(url), self.session.get(url, headers=headers) as resp:
            self.received += len(await resp.read())
            if "ETag" in resp.headers:
                self.etags[url] = resp.headers["ETag"]

    async def cycle(self, feed_urls: list[str]) -> None:
        await asyncio.gather(*(self.get(u) for u in feed_urls))


def count_parses() -> list[int]:
    calls = [0]
    real = feedparser.parse

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return real(*args, **kwargs)

    feedparser.parse = counting
    return calls


async def poll_all(monitors: list[st.StatusPageMonitor]) -> None:
    await asyncio.gather(*(m.poll() for m in monitors))


def new_session() -> aiohttp.ClientSession:
    # The settings run_tracker uses (timeouts included), shared by every contender.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                                 cookie_jar=aiohttp.DummyCookieJar(), timeout=st.TIMEOUT,
                                 headers={"User-Agent": st.user_agent()})


def urls(port: int, kind: str, count: int) -> list[str]:
    tail = "/history.atom" if kind == "sp" else ""
    return [f"http://127.0.0.1:{port}/{kind}/{i}{tail}" for i in range(count)]


async def farm_meta(session: aiohttp.ClientSession, port: int) -> dict[str, Any]:
    """Validators and fingerprints of every feed, so a contender can start warm. Building
    them for 10,000 feeds takes the server longer than the tracker's 15 s read timeout."""
    async with session.get(f"http://127.0.0.1:{port}/meta",
                           timeout=aiohttp.ClientTimeout(total=600)) as resp:
        return dict(await resp.json())


async def api_requests(session: aiohttp.ClientSession, port: int) -> int:
    """The API requests the server has answered so far."""
    async with session.get(f"http://127.0.0.1:{port}/api-requests") as resp:
        return int((await resp.json())["api_requests"])


def seed_known(kind: str, i: int, now: datetime) -> dict[str, st.Seen]:
    """What a state file holds for a feed read before: one Seen per entry, with its steps."""
    known = {}
    for n in range(ENTRIES):
        if kind == "sp":
            key = f"tag:sp{i}.bench.test,2005:Incident/{1_000_000 - n}"
        else:
            key = f"https://io{i}.bench.test//incidents/01K{i:07d}{1_000_000 - n:07d}"
        steps = tuple(f"{i:06x}{n:04x}{s:06x}" for s in range(2 + n % 3)) if kind == "sp" else ()
        known[key] = st.Seen(now - timedelta(hours=n * 7), f"{i:08x}{n:08x}", steps, now)
    return known


async def run_tracker(port: int, args: argparse.Namespace) -> dict[str, Any]:
    half = args.feeds // 2
    parses = count_parses()
    arrivals: dict[str, float] = {}

    def callback(event: st.IncidentEvent) -> None:
        if event.incident is not None and event.kind == "new":
            arrivals.setdefault(event.feed, time.time())

    async with new_session() as session:
        meta = await farm_meta(session, port)
        limiter = st.HostLimiter(args.per_host)
        shared = st.Shared(session, limiter=limiter)
        policy = st.RetryPolicy(args.interval, max(st.DEFAULT_MAX_INTERVAL, args.interval))
        monitors: dict[str, list[st.StatusPageMonitor]] = {}
        now = datetime.now(UTC)
        for kind in ("sp", "io"):
            monitors[kind] = [
                st.StatusPageMonitor(f"{kind}{i}", url, shared, callback, policy=policy,
                                     start_spread=st.start_spread(args.feeds, args.interval))
                for i, url in enumerate(urls(port, kind, half))]
        sample = {kind: monitors[kind][: args.sample] for kind in monitors}
        cold = await measure(lambda: asyncio.gather(
            *(m.poll() for ms in sample.values() for m in ms)))
        cold_feeds = sum(len(ms) for ms in sample.values())
        for kind, ms in monitors.items():
            for i, mon in enumerate(ms[args.sample:], start=args.sample):
                etag, fingerprint = (meta["sp"][str(i)] if kind == "sp"
                                     else (None, meta["io"][str(i)]))
                mon.state = st.FeedState(etag=etag, fingerprint=fingerprint, entries=ENTRIES,
                                         known=seed_known(kind, i, now), first_sight=False,
                                         statuspage=kind == "sp", maintenances={})
        # As after a restart: each Statuspage feed's first poll reads its maintenance list
        # once (windows may have begun meanwhile); the quiet cycles measured come after.
        await poll_all([m for ms in monitors.values() for m in ms])
        api_before = await api_requests(session, port)
        # Tracker and floor cycles alternate on the same session, so both are measured under
        # the same conditions; run-to-run drift on a shared machine is larger than the gap.
        floor = Floor(session, limiter)
        feed_urls = {kind: urls(port, kind, half) for kind in monitors}
        await asyncio.gather(*(floor.cycle(us) for us in feed_urls.values()))  # learn validators
        floor.received = 0
        quiet: dict[str, list[Cycle]] = {kind: [] for kind in monitors}
        floor_quiet: dict[str, list[Cycle]] = {kind: [] for kind in monitors}
        parses_before = parses[0]
        bytes_before = sum(m.stats.bytes for ms in monitors.values() for m in ms)
        for kind, ms in monitors.items():
            for _ in range(args.cycles):
                # Each lambda is awaited at once, so the loop variables are the right ones.
                quiet[kind].append(await measure(lambda: poll_all(ms)))  # noqa: B023
                floor_quiet[kind].append(await measure(
                    lambda: floor.cycle(feed_urls[kind])))  # noqa: B023
        quiet_parses = parses[0] - parses_before
        quiet_api = (await api_requests(session, port) - api_before) / args.cycles
        quiet_bytes = (sum(m.stats.bytes for ms in monitors.values() for m in ms)
                       - bytes_before) / args.cycles
        failures = sum(m.stats.errors for ms in monitors.values() for m in ms)
        # What /metrics costs: every feed's lines are built once at start and then at the
        # end of each of its polls, so a scrape (on the event loop: polling waits that long)
        # only puts finished lines together. Measured after a quarter of the feeds polled
        # (after the quiet-cycle counts above, which these polls must not enter).
        everyone = [m for ms in monitors.values() for m in ms]
        cpu = time.process_time()
        monitoring = st.Monitoring(everyone, [], clock=st.Clock())
        built = time.process_time() - cpu
        await poll_all(everyone[::4])
        cpu = time.process_time()
        exposition = monitoring.render()
        scraped = time.process_time() - cpu
        scrape = {"built": built, "scrape": scraped, "lines": exposition.count("\n"),
                  "bytes": len(exposition)}

        stop = asyncio.Event()
        everything = [m for ms in monitors.values() for m in ms]
        tasks = [asyncio.create_task(st.Scheduler(everything).run(stop))]
        await asyncio.sleep(args.interval * 1.5)  # every monitor is on its schedule by now
        published = {}
        api_before_changes = await api_requests(session, port)
        for kind in ("sp", "io"):
            for i in random.Random(3).sample(range(half), min(3, half)):
                await (await session.post(f"http://127.0.0.1:{port}/change/{kind}/{i}")).read()
                published[f"{kind}{i}"] = time.time()
                await asyncio.sleep(random.Random(i).uniform(0, args.interval / 3))
        deadline = time.time() + args.interval + 5
        while set(published) - set(arrivals) and time.time() < deadline:
            await asyncio.sleep(0.05)
        sp_changes = sum(1 for f in published if f.startswith("sp"))
        api_per_change = (await api_requests(session, port) - api_before_changes) / max(
            1, sp_changes)
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [arrivals[f] - t for f, t in published.items() if f in arrivals]
    return {
        "cold_cpu_per_feed": cold.cpu / max(1, cold_feeds),
        "quiet": {k: [c.__dict__ for c in v] for k, v in quiet.items()},
        "floor_quiet": {k: [c.__dict__ for c in v] for k, v in floor_quiet.items()},
        "floor_bytes": floor.received / args.cycles,
        "quiet_parses": quiet_parses, "quiet_bytes": quiet_bytes, "failures": failures,
        "quiet_api": quiet_api, "api_per_change": api_per_change, "scrape": scrape,
        "latency_max": max(latencies) if latencies else None,
        "missed": sorted(set(published) - set(arrivals)),
        "rss": peak_rss_mb(),
    }


async def run_floor(port: int, args: argparse.Namespace) -> dict[str, Any]:
    """The floor alone in a process, for its peak RSS (its CPU is measured beside the
    tracker's, in the tracker's process)."""
    half = args.feeds // 2
    async with new_session() as session:
        floor = Floor(session, st.HostLimiter(args.per_host))
        for _ in range(args.cycles + 1):
            for kind in ("sp", "io"):
                await floor.cycle(urls(port, kind, half))
    return {"rss": peak_rss_mb()}


async def run_naive(port: int, args: argparse.Namespace) -> dict[str, Any]:
    parses = count_parses()
    received = [0]
    async with new_session() as session:
        limiter = st.HostLimiter(args.per_host)

        async def get_and_parse(url: str) -> None:
            async with limiter(url), session.get(url) as resp:
                body = await resp.read()
            received[0] += len(body)
            feedparser.parse(io.BytesIO(body))

        async def cycle(feed_urls: list[str]) -> None:
            await asyncio.gather(*(get_and_parse(u) for u in feed_urls))

        quiet: dict[str, list[Cycle]] = {}
        for kind in ("sp", "io"):
            feed_urls = urls(port, kind, args.sample)
            quiet[kind] = [await measure(lambda: cycle(feed_urls))  # noqa: B023
                           for _ in range(args.cycles)]
    return {"quiet": {k: [c.__dict__ for c in v] for k, v in quiet.items()},
            "quiet_bytes": received[0] / args.cycles, "parses": parses[0],
            "rss": peak_rss_mb()}


async def run_state(port: int, args: argparse.Namespace) -> dict[str, Any]:
    """The --state file for N feeds: the tracker's save after one feed changed, against
    encoding the whole state again (what a straightforward json.dump of it costs)."""
    import tempfile

    now = datetime.now(UTC)
    folder = Path(tempfile.mkdtemp(prefix="bench-state-"))
    store = st.StateStore(folder / "state.json", clock=st.Clock())
    for i in range(args.feeds):
        kind = "sp" if i % 2 == 0 else "io"
        url = urls(port, kind, i + 1)[-1]
        store.put(url, st.FeedState(
            etag=f'W/"{kind}-{i}-0"' if kind == "sp" else None, fingerprint=f"{i:032x}",
            entries=ENTRIES, known=seed_known(kind, i, now), first_sight=False))
        store.polled_at(url, now)
    cpu = time.process_time()
    whole = json.dumps({"version": st.STATE_VERSION, "feeds": {
        url: st._feed_to_json(f) for url, f in store.feeds.items()}, "outbox": {}})
    full_encode = time.process_time() - cpu
    st.write_atomic(store.path, store.pieces(now)[0])  # every feed encoded: a first save
    cpu = time.process_time()
    loaded = st.StateStore(store.path, clock=st.Clock())
    loaded.load()
    load = time.process_time() - cpu
    assert len(loaded.feeds) == args.feeds
    first = next(iter(loaded.feeds))
    loaded.put(first, loaded.feed(first))  # one feed changed since the start
    cpu = time.process_time()
    pieces, _ = loaded.pieces(now)
    incremental = time.process_time() - cpu
    wall = time.perf_counter()
    st.write_atomic(loaded.path, pieces)  # the others are copied from the file as they are
    write = time.perf_counter() - wall
    size = store.path.stat().st_size
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()
    return {"full_encode": full_encode, "incremental": incremental, "write": write,
            "load": load, "size": size, "whole_size": len(whole)}


async def run_parse(port: int, args: argparse.Namespace) -> dict[str, Any]:
    """What a parse costs: feedparser as it ships, without its HTML sanitiser (the tracker
    reduces every field to plain text itself), and the tracker's whole parse_feed."""
    async with new_session() as session:
        bodies = [await (await session.get(u)).read()
                  for kind in ("sp", "io") for u in urls(port, kind, min(args.sample, 5))]
    parsers: dict[str, Callable[[bytes], object]] = {
        "feedparser": lambda b: feedparser.parse(io.BytesIO(b)),
        "feedparser without sanitiser": lambda b: feedparser.parse(
            io.BytesIO(b), sanitize_html=False, resolve_relative_uris=False),
        "parse_feed": st.parse_feed,
    }
    rounds: dict[str, list[float]] = {name: [] for name in parsers}
    for _ in range(3):  # the parsers take turns, so drift on the machine hits them alike
        for name, parse in parsers.items():
            cpu = time.process_time()
            for body in bodies:
                parse(body)
            rounds[name].append((time.process_time() - cpu) / len(bodies))
    return {"per_feed": {name: statistics.median(r) for name, r in rounds.items()},
            "kb": sum(map(len, bodies)) / len(bodies) / 1024}


# --- The CLI as users run it: a process, its CPU from the OS ---


def proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process, from /proc (None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def floor_main(mode: str, urls_file: Path, interval: float) -> None:
    """A contender of its own, run as a process like the CLI: `batched` GETs every URL in
    one gather per interval; `timers` gives each feed its own loop and asyncio.sleep (what
    a one-task-per-feed poller does); `naive` GETs and parses every feed every interval."""
    urls = urls_file.read_text().split()
    validators: dict[str, str] = {}
    limiter = st.HostLimiter(64)
    loop = asyncio.get_running_loop()
    async with new_session() as session:
        async def get(url: str) -> None:
            headers = dict(st.REQUEST_HEADERS)
            if mode != "naive" and url in validators:
                headers["If-None-Match"] = validators[url]
            async with limiter(url), session.get(url, headers=headers) as resp:
                body = await resp.read()
                if etag := resp.headers.get("ETag"):
                    validators[url] = etag
            if mode == "naive" and body:
                feedparser.parse(io.BytesIO(body))

        async def every_interval(step: Callable[[], Awaitable[Any]], offset: float) -> None:
            await asyncio.sleep(offset)
            while True:
                started = loop.time()
                await step()
                await asyncio.sleep(max(0.0, started + interval - loop.time()))

        if mode == "timers":
            rng = random.Random(1)
            await asyncio.gather(*(every_interval(functools.partial(get, u),
                                                  rng.uniform(0, interval)) for u in urls))
        else:
            await every_interval(lambda: asyncio.gather(*(get(u) for u in urls)), 0.0)


def cli_setup(folder: Path, port: int, kind: str, count: int, meta: dict[str, Any] | None
              ) -> tuple[Path, Path, Path]:
    """A config file, a warm state file (as after a restart; none without `meta`: a cold
    start) and a URL list for one mode."""
    route = "spq" if kind == "sp" else "io"
    urls = [f"http://127.0.0.1:{port}/{route}/{i}{'/history.atom' if kind == 'sp' else ''}"
            for i in range(count)]
    config = folder / f"{kind}.toml"
    config.write_text("".join(f'[[feeds]]\nname = "{kind}{i}"\nurl = "{u}"\n\n'
                              for i, u in enumerate(urls)))
    now = datetime.now(UTC)
    store = st.StateStore(folder / f"{kind}.state.json", clock=st.Clock())
    listing = folder / f"{kind}.urls"
    listing.write_text("\n".join(urls))
    if meta is None:
        return config, store.path, listing
    for i, url in enumerate(urls):
        etag, fingerprint = (meta["sp"][str(i)] if kind == "sp" else (None, meta["io"][str(i)]))
        store.put(url, st.FeedState(
            etag=etag, fingerprint=fingerprint, entries=ENTRIES, known=seed_known(kind, i, now),
            first_sight=False, statuspage=kind == "sp", maintenances={},
            maintenances_tried=now))
        store.polled_at(url, now)
    st.write_atomic(store.path, store.pieces(now)[0])
    return config, store.path, listing


Counter = Callable[[], Awaitable[dict[str, int]]]


def farm_counter(session: aiohttp.ClientSession, port: int) -> Counter:
    """The feed farm's count of requests per path."""
    async def count() -> dict[str, int]:
        async with session.get(f"http://127.0.0.1:{port}/api-requests") as resp:
            hits: dict[str, int] = (await resp.json())["hits"]
            return hits
    return count


async def measure_process(cmd: list[str], session: aiohttp.ClientSession, port: int,
                          args: argparse.Namespace, paths: set[str], *,
                          changes: Sequence[str] = (), count: Counter | None = None
                          ) -> dict[str, Any]:
    """Start a contender, let it warm up, read its CPU and the server's request counts over
    a steady window, then stop it with SIGTERM and time the exit."""
    count = count or farm_counter(session, port)
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    pin(proc.pid, contender=True)
    assert proc.stdout is not None
    seen: dict[str, float] = {}
    watching: set[str] = set()  # the feeds changed, once their changes are published

    async def read_stdout() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            if line.startswith(b"[") and b"Product: " in line:
                feed = line.split(b"Product: ", 1)[1].split(b" ")[0].decode()
                if feed in watching:
                    seen.setdefault(feed, time.time())

    reader = asyncio.create_task(read_stdout())
    await asyncio.sleep(args.cli_warmup)
    counts0 = await count()
    cpu0, t0 = proc_cpu(proc.pid), time.monotonic()
    await asyncio.sleep(args.cli_window)
    cpu1, t1 = proc_cpu(proc.pid), time.monotonic()
    counts1 = await count()
    rss = proc_status_mb(proc.pid, "VmRSS")
    published = {}
    for path in changes:  # changes published now must reach the CLI's stdout
        feed = "sp" + path.split("/")[-1]
        published[feed] = time.time()
        watching.add(feed)
        await (await session.post(f"http://127.0.0.1:{port}{path}")).read()
    deadline = time.time() + args.cli_interval * 3 + 5
    while changes and len(seen) < len(changes) and time.time() < deadline:
        await asyncio.sleep(0.02)
    stopped = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    await proc.wait()
    exit_seconds = time.monotonic() - stopped
    reader.cancel()
    polls = {path: counts1.get(path, 0) - counts0.get(path, 0) for path in paths}
    total = sum(polls.values())
    cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    latencies = [seen[feed] - at for feed, at in published.items() if feed in seen]
    return {"cpu_per_poll": cpu / total if cpu is not None and total else None,
            "polls": total, "window": t1 - t0, "per_feed": sorted(polls.values()),
            "rss": rss, "exit": exit_seconds, "latency": max(latencies) if latencies else None,
            "missed": len(changes) - len(latencies)}


async def run_cli(port: int, args: argparse.Namespace) -> dict[str, Any]:
    """The CLI against both floors and the naive poller, interleaved, repeated."""
    import tempfile

    here = Path(__file__).resolve()
    folder = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    async with new_session() as session:
        meta = await farm_meta(session, port)
        for kind in ("sp", "io"):
            config, state, listing = cli_setup(folder, port, kind, args.cli_feeds, meta)
            sample = folder / f"{kind}.naive.urls"
            sample.write_text("\n".join(listing.read_text().split()[: args.sample]))
            tracker = [sys.executable, str(here.parent.parent / "status_tracker.py"),
                       "--config", str(config), "--state", str(state), "--interval",
                       f"{args.cli_interval:g}", "--per-host", "64", "-q"]
            contenders = {
                "tracker": tracker,
                # The same without its history database: a quiet poll must cost the same.
                "no_history": [*tracker, "--history-db", "off"],
                **{name: [sys.executable, str(here), "--floor", name, "--urls-file",
                          str(listing if name != "naive" else sample), "--interval",
                          f"{args.cli_interval:g}"]
                   for name in ("batched", "timers", "naive")},
            }
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
            for repeat in range(args.cli_repeats):  # interleaved: drift hits all alike
                for name, cmd in contenders.items():
                    changes = ([f"/change/spq/{i}" for i in range(min(3, args.cli_feeds))]
                               if name == "tracker" and kind == "sp" and repeat == 0 else [])
                    urls = (sample if name == "naive" else listing).read_text().split()
                    own = {urllib.parse.urlsplit(u).path for u in urls}
                    runs[name].append(await measure_process(cmd, session, port, args, own,
                                                            changes=changes))
            results[kind] = runs
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()
    return results


# --- The same CLI comparison, served by a real nginx ---

# SSI fills in the feed-level date on every response, as OpenAI's feed re-stamps its own;
# nginx then sends no ETag or Last-Modified either, as that feed does not.
SSI_DATE = '<!--# config timefmt="%Y-%m-%dT%H:%M:%SZ" --><!--# echo var="date_gmt" -->'


class NginxFarm:
    """A real nginx on 127.0.0.1, pinned to the first CPU, serving the bench's feeds from
    files: the Statuspage-like ones (and their JSON API) as static files, whose strong ETag
    and Last-Modified earn a 304 on a quiet poll; the incident.io-like ones through SSI.
    Requests are counted from its access log."""

    def __init__(self, feeds: int, folder: Path) -> None:
        self.feeds = feeds
        self.folder = folder
        self.root = folder / "www"
        self.log = folder / "access.log"
        self.port = 0

    def write_feeds(self) -> None:
        for i in range(self.feeds):
            api = self.root / "sp" / str(i) / "api" / "v2"
            api.mkdir(parents=True)
            (api.parent.parent / "history.atom").write_bytes(statuspage_feed(i, 0))
            for key, doc in (("incidents", "incidents"),
                             ("scheduled_maintenances", "scheduled-maintenances")):
                (api / f"{doc}.json").write_bytes(statuspage_api(i, 0, key))
            head, tail = incidentio_parts(i, 0)
            (self.root / "io").mkdir(exist_ok=True)
            (self.root / "io" / f"{i}.atom").write_bytes(head + SSI_DATE.encode() + tail)
        for path in (self.folder, *self.root.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)  # nginx's workers run unprivileged

    def start(self) -> None:
        import socket
        import subprocess

        self.write_feeds()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        conf = self.folder / "nginx.conf"
        temp = self.folder
        conf.write_text(f"""
worker_processes 1;
daemon on;
pid {temp}/nginx.pid;
error_log {temp}/error.log;
events {{ worker_connections 4096; }}
http {{
  log_format counted '$uri';
  access_log {self.log} counted buffer=64k flush=100ms;
  client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
  uwsgi_temp_path {temp}; scgi_temp_path {temp};
  types {{ application/atom+xml atom; application/json json; }}
  server {{
    listen 127.0.0.1:{self.port} backlog=4096;
    root {self.root};
    location /io/ {{ ssi on; ssi_types application/atom+xml; }}
  }}
}}
""")
        cpu = [] if len(_CPUS) < 2 else ["taskset", "-c", str(_CPUS[0])]
        subprocess.run([*cpu, "nginx", "-c", str(conf)], check=True)
        for _ in range(50):
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int((self.folder / "nginx.pid").read_text()), signal.SIGQUIT)

    def url(self, kind: str, i: int) -> str:
        tail = "/history.atom" if kind == "sp" else ".atom"
        return f"http://127.0.0.1:{self.port}/{kind}/{i}{tail}"

    async def count(self) -> dict[str, int]:
        await asyncio.sleep(0.15)  # the log's buffer is flushed every 100 ms
        hits: dict[str, int] = {}
        with contextlib.suppress(FileNotFoundError):
            for line in self.log.read_text().splitlines():
                hits[line] = hits.get(line, 0) + 1
        return hits


async def nginx_setup(farm: NginxFarm, folder: Path, kind: str, count: int,
                      session: aiohttp.ClientSession) -> tuple[Path, Path, Path]:
    """As cli_setup, for the nginx farm: the warm state from what nginx itself answers."""
    urls = [farm.url(kind, i) for i in range(count)]
    config = folder / f"nginx-{kind}.toml"
    config.write_text("".join(f'[[feeds]]\nname = "{kind}{i}"\nurl = "{u}"\n\n'
                              for i, u in enumerate(urls)))
    now = datetime.now(UTC)
    store = st.StateStore(folder / f"nginx-{kind}.state.json", clock=st.Clock())
    for i, url in enumerate(urls):
        async with session.get(url) as resp:
            body, etag = await resp.read(), resp.headers.get("ETag")
            last_modified = resp.headers.get("Last-Modified")
        store.put(url, st.FeedState(
            etag=etag, last_modified=last_modified, fingerprint=st.body_fingerprint(body),
            entries=ENTRIES, known=seed_known(kind, i, now), first_sight=False,
            statuspage=kind == "sp", maintenances={}, maintenances_tried=now))
        store.polled_at(url, now)
    st.write_atomic(store.path, store.pieces(now)[0])
    listing = folder / f"nginx-{kind}.urls"
    listing.write_text("\n".join(urls))
    return config, store.path, listing


async def run_nginx(args: argparse.Namespace) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The CLI against the batched floor, interleaved and repeated, both polling nginx."""
    import tempfile

    here = Path(__file__).resolve()
    folder = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    farm = NginxFarm(args.cli_feeds, folder)
    farm.start()
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    try:
        async with new_session() as session:
            for kind in ("sp", "io"):
                config, state, listing = await nginx_setup(farm, folder, kind, args.cli_feeds,
                                                           session)
                contenders = {
                    "tracker": [sys.executable, str(here.parent.parent / "status_tracker.py"),
                                "--config", str(config), "--state", str(state), "--interval",
                                f"{args.cli_interval:g}", "--per-host", "64", "-q"],
                    "batched": [sys.executable, str(here), "--floor", "batched", "--urls-file",
                                str(listing), "--interval", f"{args.cli_interval:g}"]}
                own = {urllib.parse.urlsplit(u).path for u in listing.read_text().split()}
                runs: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
                for _ in range(args.cli_repeats):
                    for name, cmd in contenders.items():
                        runs[name].append(await measure_process(
                            cmd, session, farm.port, args, own, count=farm.count))
                results[kind] = runs
    finally:
        farm.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return results


def nginx_report(cli: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    lines = []
    for kind, label in (("sp", "304"), ("io", "re-stamped 200, no validators")):
        tracker, floor = ([r["cpu_per_poll"] for r in cli[kind][name]
                           if r["cpu_per_poll"] is not None] for name in ("tracker", "batched"))
        if not tracker or not floor or not statistics.median(floor):
            lines.append(f"{label}: n/a (too few polls in the window to count)")
            continue
        ratio = statistics.median(tracker) / statistics.median(floor)
        lines.append(f"µs CPU per poll, {label}: tracker CLI "
                     + " ".join(f"{x * 1e6:.0f}" for x in tracker) + " | batched floor "
                     + " ".join(f"{x * 1e6:.0f}" for x in floor)
                     + f" | ratio of medians {ratio:.2f}")
    return "\n".join(lines)


# --- The CLI at fleet size: its memory, its schedule and its stop at 10,000 feeds ---


def proc_status_mb(pid: int, field: str) -> float | None:
    """A memory line of /proc/<pid>/status in MB (VmRSS: now; VmHWM: the peak so far)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return None


async def poll_times(session: aiohttp.ClientSession, port: int) -> dict[str, list[float]]:
    """When the server answered each feed path so far (epoch seconds)."""
    async with session.get(f"http://127.0.0.1:{port}/poll-times") as resp:
        return {path: list(map(float, times)) for path, times in (await resp.json()).items()}


async def run_big(port: int, args: argparse.Namespace, *, warm: bool) -> dict[str, Any]:
    """The CLI polling --big-feeds feeds (half of each kind) at --big-interval, from a warm
    state file (as after a restart) or from none (a cold start, every feed parsed once).

    Warm: the window opens once every feed was polled once and lasts --big-intervals
    intervals. Cold: the run lasts --big-cold-intervals intervals from the start and the
    window is its last --big-intervals. The server timestamps every request, so how late
    each feed's polls came is measured from its side.
    """
    import tempfile

    here = Path(__file__).resolve()
    folder = Path(tempfile.mkdtemp(prefix="bench-big-"))
    half, interval = args.big_feeds // 2, args.big_interval
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        meta = await farm_meta(session, port) if warm else None
        parts = [cli_setup(folder, port, kind, half, meta) for kind in ("sp", "io")]
        config = folder / "all.toml"
        config.write_text("".join(part[0].read_text() for part in parts))
        state = st.StateStore(folder / "all.state.json", clock=st.Clock())
        if warm:
            for _, path, _ in parts:
                one = st.StateStore(path, clock=st.Clock())
                one.load()
                for url, feed in one.feeds.items():
                    state.put(url, feed)
                    state.polled_at(url, one.polled[url])
            st.write_atomic(state.path, state.pieces(datetime.now(UTC))[0])
        paths = {urllib.parse.urlsplit(u).path
                 for _, _, listing in parts for u in listing.read_text().split()}
        before = {p: len(t) for p, t in (await poll_times(session, port)).items() if p in paths}
        errors = folder / "stderr.txt"
        started = time.time()
        with errors.open("wb") as stderr:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(here.parent.parent / "status_tracker.py"), "--config",
                str(config), "--state", str(state.path), "--interval", f"{interval:g}",
                "--per-host", "64", "-q", stdout=asyncio.subprocess.DEVNULL, stderr=stderr)
        pin(proc.pid, contender=True)
        rss_samples: list[float] = []
        cpu_marks: dict[str, tuple[float, float | None]] = {}

        async def sample_until(deadline: float, *, all_polled: bool = False) -> None:
            while time.time() < deadline and proc.returncode is None:
                if (rss := proc_status_mb(proc.pid, "VmRSS")) is not None:
                    rss_samples.append(rss)
                if all_polled:
                    counts = (await (await session.get(
                        f"http://127.0.0.1:{port}/api-requests")).json())["hits"]
                    if all(counts.get(p, 0) > before.get(p, 0) for p in paths):
                        return
                await asyncio.sleep(1.0)

        window = args.big_intervals * interval
        if warm:
            await sample_until(started + 3 * interval + 120, all_polled=True)
            cpu_marks["open"] = (time.time(), proc_cpu(proc.pid))
            await sample_until(time.time() + window)
        else:
            end = started + args.big_cold_intervals * interval
            await sample_until(end - window)
            cpu_marks["open"] = (time.time(), proc_cpu(proc.pid))
            await sample_until(end)
        cpu_marks["close"] = (time.time(), proc_cpu(proc.pid))
        rss = proc_status_mb(proc.pid, "VmRSS")
        peak = proc_status_mb(proc.pid, "VmHWM")
        died = proc.returncode
        stopped = time.monotonic()
        if died is None:
            proc.send_signal(signal.SIGTERM)
        await proc.wait()
        exit_seconds = time.monotonic() - stopped
        times = {p: t[before.get(p, 0):] for p, t in (await poll_times(session, port)).items()
                 if p in paths}
    complaints = errors.read_text(errors="replace").splitlines()
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()
    if died is not None:
        raise RuntimeError(f"the CLI exited early ({died}): " + "\n".join(complaints[-5:]))
    (opened, cpu0), (closed, cpu1) = cpu_marks["open"], cpu_marks["close"]
    in_window = [sum(opened <= t < closed for t in times.get(p, [])) for p in paths]
    firsts = [t[0] - started for t in times.values() if t]
    gaps = [b - a for t in times.values() for a, b in itertools.pairwise(t)]
    return {
        "warm": warm, "feeds": len(paths), "interval": interval, "window": closed - opened,
        "per_interval": (min(in_window) * interval / (closed - opened),
                         max(in_window) * interval / (closed - opened)),
        "cpu": None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) / (closed - opened),
        "rss": rss, "rss_max_sampled": max(rss_samples, default=math.nan), "peak": peak,
        "exit": exit_seconds, "never_polled": sum(1 for p in paths if not times.get(p)),
        "first_poll_max": max(firsts, default=None),
        "gap_max": max(gaps, default=None),
        "late_feeds": sum(1 for t in times.values()
                          if any(b - a > 2 * interval for a, b in itertools.pairwise(t))),
        "stderr_lines": len(complaints),
    }


def big_report(result: dict[str, Any]) -> str:
    interval = result["interval"]
    spread = st.start_spread(result["feeds"], interval)
    low, high = result["per_interval"]
    behind = (None if result["gap_max"] is None
              else max(0.0, result["gap_max"] - interval))
    first_late = (None if result["first_poll_max"] is None
                  else max(0.0, result["first_poll_max"] - spread))
    worst = max((v for v in (behind, first_late) if v is not None), default=None)

    def secs(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f} s"

    lines = [
        f"{'warm' if result['warm'] else 'cold'} start, {result['feeds']:,} feeds, --interval "
        f"{interval:g}, window {result['window']:.0f} s"
        + ("" if result["warm"] else " (the last of the run)") + ":",
        f"  polls per feed per interval: min {low:.2f}, max {high:.2f} (target 1 +- 1)",
        "  CPU: " + ("n/a" if result["cpu"] is None else f"{result['cpu'] * 100:.1f}% of a core"),
        f"  RSS {result['rss']:.0f} MB at the end (max sampled {result['rss_max_sampled']:.0f}"
        f" MB), peak (VmHWM) {result['peak']:.0f} MB (target <= 150 MB)",
        f"  SIGTERM to exit: {result['exit']:.2f} s (target <= 2 s)",
        f"  every feed's first poll within {secs(result['first_poll_max'])} of the start "
        f"(start spread {spread:g} s); never polled: {result['never_polled']}",
        f"  longest gap between two polls of a feed {secs(result['gap_max'])}: fell behind by "
        f"{secs(behind)}; first polls beyond the spread by {secs(first_late)}; feeds with a gap "
        f"over two intervals: {result['late_feeds']}",
        f"  fell behind by at most {secs(worst)} = "
        + ("n/a" if worst is None else f"{worst / interval:.2f}")
        + " intervals (target <= 1)",
    ]
    if result["stderr_lines"]:
        lines.append(f"  the CLI wrote {result['stderr_lines']} lines to stderr")
    return "\n".join(lines)


async def big_main(port: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    return [await run_big(port, args, warm=variant == "warm")
            for variant in (("warm", "cold") if args.big_variant == "both"
                            else (args.big_variant,))]


CONTENDERS: dict[str, Callable[[int, argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]]] = {
    "cli": run_cli, "floor": run_floor, "tracker": run_tracker, "naive": run_naive,
    "state": run_state, "parse": run_parse}


def contender(name: str, port: int, args: argparse.Namespace, results: Any) -> None:
    results.put((name, asyncio.run(CONTENDERS[name](port, args))))


# --- Report ---


def per_cycle(result: dict[str, Any], kind: str, field: str, key: str = "quiet") -> float:
    """The median cycle: one slow cycle (a GC pause, a busy neighbour) does not move it."""
    return float(statistics.median(c[field] for c in result[key][kind]))


def cli_report(cli: dict[str, dict[str, list[dict[str, Any]]]], args: argparse.Namespace
               ) -> str:
    """The main table: the CLI as a process against the floors, medians of the repeats."""
    names = ("tracker", "no_history", "batched", "timers", "naive")
    heads = ("", "tracker CLI", "tracker, no history", "floor: batched",
             "floor: one timer per feed", f"naive ({args.sample} feeds)")

    def median(kind: str, name: str, key: str) -> float | None:
        values = [r[key] for r in cli[kind][name] if r[key] is not None]
        return statistics.median(values) if values else None

    def per_interval(kind: str, name: str) -> str:
        counts = [c for r in cli[kind][name] for c in r["per_feed"]]
        window = statistics.median(r["window"] for r in cli[kind][name])
        if not counts:
            return "n/a"
        scale = args.cli_interval / window
        return f"{min(counts) * scale:.2f}-{max(counts) * scale:.2f}"

    rows = []
    for kind, label in (("sp", "304"), ("io", "re-stamped 200, no validators")):
        rows.append((f"µs CPU per poll, {label}", *(
            "n/a" if (v := median(kind, n, "cpu_per_poll")) is None else f"{v * 1e6:.0f}"
            for n in names)))
        rows.append((f"polls per feed per interval, {label}",
                     *(per_interval(kind, n) for n in names)))
        rows.append((f"RSS MB, {label}", *(
            "n/a" if (v := median(kind, n, "rss")) is None else f"{v:.0f}" for n in names)))
    widths = [max(len(str(r[c])) for r in (heads, *rows)) for c in range(len(heads))]
    lines = [" | ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]

    def ratio(kind: str, a: str, b: str) -> str:
        x, y = median(kind, a, "cpu_per_poll"), median(kind, b, "cpu_per_poll")
        return f"{x / y:.2f}" if x and y else "n/a"

    first = cli["sp"]["tracker"][0]
    exits = [r["exit"] for kind in cli for r in cli[kind]["tracker"]]
    lines += [
        "",
        f"tracker/batched floor CPU per poll, 304:         {ratio('sp', 'tracker', 'batched')}"
        "  (target <= 1.3)",
        f"tracker/batched floor CPU per poll, re-stamped:  {ratio('io', 'tracker', 'batched')}"
        "  (target <= 1.6)",
        f"tracker/one-timer floor CPU per poll, 304:       {ratio('sp', 'tracker', 'timers')}",
        f"history on/off CPU per poll, 304 | re-stamped:   {ratio('sp', 'tracker', 'no_history')}"
        f" | {ratio('io', 'tracker', 'no_history')}  (a quiet poll writes nothing: about 1)",
        f"naive/tracker CPU per poll, 304 | re-stamped:    {ratio('sp', 'naive', 'tracker')} | "
        f"{ratio('io', 'naive', 'tracker')}  (target >= 100)",
        "detection latency through the CLI's stdout, max of 3 changes: "
        + ("n/a" if first["latency"] is None else f"{first['latency']:.2f} s")
        + f" with --interval {args.cli_interval:g} (missed: {first['missed']})",
        f"SIGTERM to exit, slowest of {len(exits)} runs: {max(exits):.2f} s (target <= 2 s)",
    ]
    return "\n".join(lines)


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    half = args.feeds // 2
    scale = half / args.sample  # the naive poller ran on the sample only
    tracker, floor, naive = results["tracker"], results["floor"], results["naive"]
    rows: list[tuple[str, str, str, str]] = []

    def fmt(value: float | None, unit: str = "", digits: int = 3) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}{unit}"

    for kind, label in (("sp", f"{half} feeds with validators (304)"),
                        ("io", f"{half} re-stamped feeds, no validators")):
        rows.append((f"CPU s / quiet cycle, {label}", fmt(per_cycle(tracker, kind, "cpu")),
                     fmt(per_cycle(tracker, kind, "cpu", "floor_quiet")),
                     fmt(per_cycle(naive, kind, "cpu") * scale)))
        rows.append((f"wall s / quiet cycle, {label}", fmt(per_cycle(tracker, kind, "wall")),
                     fmt(per_cycle(tracker, kind, "wall", "floor_quiet")),
                     fmt(per_cycle(naive, kind, "wall") * scale)))
    rows.append(("bytes received / quiet cycle", f"{tracker['quiet_bytes']:,.0f}",
                 f"{tracker['floor_bytes']:,.0f}", f"{naive['quiet_bytes'] * scale:,.0f}"))
    rows.append(("feedparser calls, all quiet cycles", str(tracker["quiet_parses"]), "0",
                 f"{naive['parses'] * scale:,.0f}"))
    rows.append(("status API requests / quiet cycle", f"{tracker['quiet_api']:g}", "-", "-"))
    rows.append(("status API requests / Statuspage change", f"{tracker['api_per_change']:g}",
                 "-", "-"))
    rows.append(("peak RSS MB", fmt(tracker["rss"], digits=0), fmt(floor["rss"], digits=0),
                 fmt(naive["rss"], digits=0) + f" ({2 * args.sample} feeds)"))
    rows.append(("detection latency, max of 6 changes", fmt(tracker["latency_max"], " s", 2),
                 "-", "-"))
    rows.append(("cold first read, CPU per feed", fmt(tracker["cold_cpu_per_feed"] * 1000,
                                                       " ms", 1), "-", "-"))
    widths = [max(len(r[c]) for r in [("", "tracker", "floor", "naive"), *rows])
              for c in range(4)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(("", "tracker", "floor", "naive (scaled)"),
                                                    widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b > 0 else "n/a"

    t_sp, f_sp = per_cycle(tracker, "sp", "cpu"), per_cycle(tracker, "sp", "cpu", "floor_quiet")
    t_io, f_io = per_cycle(tracker, "io", "cpu"), per_cycle(tracker, "io", "cpu", "floor_quiet")
    n_all = (per_cycle(naive, "sp", "cpu") + per_cycle(naive, "io", "cpu")) * scale
    total_wall = per_cycle(tracker, "sp", "wall") + per_cycle(tracker, "io", "wall")
    lines += [
        "",
        f"tracker/floor CPU, feeds with validators:     {ratio(t_sp, f_sp)}  (target <= 1.5)",
        f"tracker/floor CPU, re-stamped feeds:          {ratio(t_io, f_io)}  (target <= 2.5)",
        f"naive/tracker CPU, quiet cycle over all feeds: {ratio(n_all, t_sp + t_io)}  "
        "(target >= 50)",
        f"feedparser calls in quiet cycles (tracker):   {tracker['quiet_parses']}  (target 0)",
        f"status API requests per quiet cycle:          {tracker['quiet_api']:g}  (target 0); "
        f"per Statuspage change: {tracker['api_per_change']:g}  (target <= 2)",
        f"quiet cycle over all {args.feeds} feeds, wall: {total_wall:.2f} s; "
        f"detection latency max {fmt(tracker['latency_max'], ' s', 2)} with interval "
        f"{args.interval:g} s (target <= {max(args.interval, MAX_AGE) + 1:g} s: the next poll "
        f"also waits for the server's max-age={MAX_AGE})",
    ]
    scrape = tracker["scrape"]
    lines.append(
        f"/metrics of {args.feeds} feeds ({scrape['lines']:,} lines, "
        f"{scrape['bytes'] / 1e6:.1f} MB), event-loop CPU: one scrape "
        f"{scrape['scrape'] * 1000:.0f} ms (target < 100 ms at 10,000 feeds); building every "
        f"feed's lines once at start {scrape['built'] * 1000:.0f} ms")
    state = results["state"]
    lines += [
        "",
        f"--state file for {args.feeds} feeds ({state['size'] / 1e6:.1f} MB): a save after "
        f"one feed changed costs {state['incremental'] * 1000:.0f} ms of event-loop CPU "
        f"(encoding the whole state again: {state['full_encode'] * 1000:.0f} ms); "
        f"write + fsync in a thread {state['write'] * 1000:.0f} ms; load at start "
        f"{state['load'] * 1000:.0f} ms",
    ]
    parse = results["parse"]
    lines.append(
        f"one parse of a {parse['kb']:.0f} KB feed (CPU): " + ", ".join(
            f"{name} {cost * 1000:.1f} ms" for name, cost in parse["per_feed"].items()))
    if tracker["missed"] or tracker["failures"]:
        lines.append(f"PROBLEM: changes never reported: {tracker['missed']}; "
                     f"failed polls: {tracker['failures']}")
    return "\n".join(lines)


@contextlib.contextmanager
def feed_server(feeds: int) -> Iterator[int]:
    """The feed farm in a process of its own, pinned to the first CPU; yields its port."""
    ctx = multiprocessing.get_context("spawn")
    ports = ctx.Queue()
    server = ctx.Process(target=serve, args=(feeds, ports), daemon=True)
    server.start()
    pin(server.pid, contender=False)
    try:
        yield ports.get(timeout=30)
    finally:
        server.terminate()
        server.join()


def big(args: argparse.Namespace) -> int:
    """--big: one server, the CLI started warm and then cold (each its own process)."""
    if args.big_feeds < 2 or args.big_intervals < 1 or args.big_cold_intervals <= (
            args.big_intervals):
        sys.exit("bench.py: --big-feeds >= 2, --big-intervals >= 1 and --big-cold-intervals "
                 "> --big-intervals")
    started = time.perf_counter()
    with feed_server(args.big_feeds) as port:
        results = asyncio.run(big_main(port, args))
    print(f"status_tracker CLI at fleet size: {os.cpu_count()} CPUs, Python "
          f"{sys.version.split()[0]}, aiohttp {aiohttp.__version__}, feedparser "
          f"{feedparser.__version__}; half the feeds Statuspage-like (ETag, 304), half "
          "incident.io-like (re-stamped, no validators)")
    for result in results:
        print(big_report(result))
    print(f"(bench ran {time.perf_counter() - started:.1f} s)")
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


def year_of_history(path: Path, vendors: int, seed: int = 7) -> dict[str, int]:
    """A history database as a year of watching `vendors` pages writes it: two incidents a
    week each, their steps, events and components' status changes."""
    rng = random.Random(seed)
    end = time.time()
    start = end - 365 * 86_400
    db = st.open_history(path)
    counts = dict.fromkeys(("incidents", "steps", "events", "components"), 0)
    with db:
        for v in range(vendors):
            feed = f"Vendor {v}"
            names = [f"Component {c}" for c in range(10)]
            db.executemany("INSERT INTO components VALUES (?, ?, 'operational', ?)",
                           [(feed, n, start) for n in names])
            counts["components"] += len(names)
            for i in range(104):
                began = start + rng.uniform(0, 365 * 86_400 - 86_400)
                ended = began + rng.uniform(600, 6 * 3600)
                impact = rng.choice(("minor", "major", "critical", None))
                ident = f"{feed}-{i}"
                db.execute("INSERT INTO incidents VALUES (?, ?, ?, ?, ?, 0, '[]', ?, ?, ?)",
                           (feed, ident, f"Incident {i}", "https://x.test/", impact, began,
                            ended, ended))
                steps = [(began + (ended - began) * k / 3, word) for k, word in
                         enumerate(("Investigating", "Identified", "Monitoring", "Resolved"))]
                db.executemany("INSERT INTO steps VALUES (?, ?, ?, ?, ?)",
                               [(feed, ident, at, word, "text") for at, word in steps])
                db.executemany("INSERT INTO events(recorded, feed, kind, incident, body) "
                               "VALUES (?, ?, 'updated', ?, '{}')",
                               [(at, feed, ident) for at, _ in steps])
                hit = rng.choice(names)
                state = {"minor": "degraded_performance", "major": "partial_outage",
                         "critical": "major_outage"}.get(impact or "", "degraded_performance")
                db.executemany("INSERT INTO components VALUES (?, ?, ?, ?)",
                               [(feed, hit, state, began), (feed, hit, "operational", ended)])
                counts["incidents"] += 1
                counts["steps"] += 4
                counts["events"] += 4
                counts["components"] += 2
    db.close()
    return counts


def report_year(vendors: int, repeats: int = 5) -> int:
    """--report over a year of history of `vendors` pages, timed as users run it: the CLI
    as a process, wall time from start to exit (text and --json)."""
    import subprocess
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="bench-report-"))
    path = folder / "history.sqlite3"
    counts = year_of_history(path, vendors)
    script = Path(__file__).resolve().parent.parent / "status_tracker.py"
    print(f"--report over a year of {vendors} vendors ({counts['incidents']:,} incidents, "
          f"{counts['steps']:,} steps, {counts['events']:,} events, {counts['components']:,} "
          f"component states; {path.stat().st_size / 1e6:.1f} MB), wall seconds of "
          f"{repeats} runs of the CLI:")
    for extra in ([], ["--json"]):
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            done = subprocess.run([sys.executable, str(script), "--report", "--since", "365d",
                                   "--history-db", str(path), *extra], capture_output=True,
                                  check=True)
            times.append(time.perf_counter() - began)
        lines = done.stdout.decode().count("\n")
        print(f"  --report {' '.join(extra)}".rstrip() + f": {', '.join(f'{t:.2f}' for t in times)}"
              f" (median {statistics.median(times):.2f} s; {lines:,} lines out)")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import status_tracker"], check=True, cwd=script.parent)
    print(f"  of which starting Python and importing the tracker: "
          f"{time.perf_counter() - started:.2f} s")
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=2000,
                        help="feeds served, half of each kind (default 2000)")
    parser.add_argument("--cycles", type=int, default=3, help="quiet cycles (default 3)")
    parser.add_argument("--sample", type=int, default=20,
                        help="feeds of each kind read cold and by the naive poller (default 20)")
    parser.add_argument("--interval", type=float, default=3.0,
                        help="poll interval while timing detection (default 3)")
    parser.add_argument("--per-host", type=int, default=64,
                        help="requests in flight to the one local host (default 64)")
    parser.add_argument("--json", action="store_true", help="print raw results as JSON too")
    parser.add_argument("--cli-feeds", type=int, default=300,
                        help="feeds of each kind the CLI and the floors poll (default 300)")
    parser.add_argument("--cli-interval", type=float, default=1.0,
                        help="their poll interval (default 1)")
    parser.add_argument("--cli-warmup", type=float, default=3.0,
                        help="seconds before the window opens (default 3)")
    parser.add_argument("--cli-window", type=float, default=6.0,
                        help="seconds over which CPU and requests are counted (default 6)")
    parser.add_argument("--cli-repeats", type=int, default=3,
                        help="interleaved repeats, the median is shown (default 3)")
    parser.add_argument("--cli-only", action="store_true",
                        help="run only the CLI comparison (no in-process figures)")
    parser.add_argument("--no-nginx", dest="nginx", action="store_false",
                        help="leave out the CLI comparison served by nginx (run where nginx "
                             "is installed)")
    parser.add_argument("--big", action="store_true",
                        help="run only the CLI at fleet size: memory, schedule, stop (~10 min)")
    parser.add_argument("--big-feeds", type=int, default=10_000,
                        help="--big: feeds, half of each kind (default 10000)")
    parser.add_argument("--big-interval", type=float, default=60.0,
                        help="--big: the CLI's --interval (default 60)")
    parser.add_argument("--big-intervals", type=int, default=2,
                        help="--big: intervals in the measured window (default 2)")
    parser.add_argument("--big-cold-intervals", type=int, default=6,
                        help="--big: intervals a cold start runs in all (default 6)")
    parser.add_argument("--big-variant", choices=("warm", "cold", "both"), default="both",
                        help="--big: from a warm state file, from none, or both (default)")
    parser.add_argument("--report-year", type=int, metavar="VENDORS",
                        help="time --report over a year of history of VENDORS pages (100: "
                             "the target of under a second) and exit")
    parser.add_argument("--floor", choices=("batched", "timers", "naive"),
                        help=argparse.SUPPRESS)  # the bench starts its floors with this
    parser.add_argument("--urls-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.report_year:
        return report_year(args.report_year)
    if args.floor:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(floor_main(args.floor, args.urls_file, args.cli_interval))
        return 0
    if args.feeds < 2 or args.cycles < 1 or args.sample < 1:
        parser.error("--feeds >= 2, --cycles >= 1 and --sample >= 1")
    args.sample = min(args.sample, args.feeds // 2)
    if args.big:
        return big(args)
    args.cli_feeds = min(args.cli_feeds, args.feeds // 2)

    ctx = multiprocessing.get_context("spawn")
    results_queue = ctx.Queue()
    started = time.perf_counter()
    with feed_server(args.feeds) as port:
        results: dict[str, dict[str, Any]] = {}
        for name in ["cli"] if args.cli_only else CONTENDERS:  # one at a time, alone
            proc = ctx.Process(target=contender, args=(name, port, args, results_queue))
            proc.start()
            # The CLI comparison only starts and watches its subprocesses, pinned as contenders.
            pin(proc.pid, contender=name != "cli")
            got, result = results_queue.get(timeout=600)
            proc.join()
            results[got] = result
    print(f"status_tracker bench: {args.feeds} feeds ({args.feeds // 2} Statuspage-like with "
          f"ETag, {args.feeds // 2} incident.io-like re-stamped), {args.cycles} quiet cycles, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, aiohttp "
          f"{aiohttp.__version__}, feedparser {feedparser.__version__}")
    print(f"The CLI as a process ({args.cli_feeds} feeds of each kind, --interval "
          f"{args.cli_interval:g}), CPU from /proc over {args.cli_window:g} s windows after "
          f"{args.cli_warmup:g} s of warm-up, median of {args.cli_repeats} interleaved repeats:")
    print(cli_report(results["cli"], args))
    if args.nginx and shutil.which("nginx"):
        print(f"\nThe same served by a real nginx (static files with its ETag; SSI re-stamping the "
              f"feed date, no validators), CPU per poll of each of {args.cli_repeats} "
              "interleaved repeats:")
        print(nginx_report(asyncio.run(run_nginx(args))))
    elif args.nginx:
        print("\n(nginx is not installed: the comparison served by nginx was left out)")
    print(f"(bench ran {time.perf_counter() - started:.1f} s)" if args.cli_only else "")
    if args.cli_only:
        return 0
    print("In-process figures (the library's monitors driven in batched cycles, not the CLI):")
    print(report(results, args))
    print(f"(bench ran {time.perf_counter() - started:.1f} s)")
    if args.json:
        print(json.dumps(results, indent=1))
    return 1 if results["tracker"]["missed"] or results["tracker"]["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
