"""status_tracker: watch status pages and report every new incident, update and maintenance
window once: on the console, as JSON lines, to chat services and webhooks, as metrics.

One ``StatusPageMonitor`` per feed polls with conditional GETs on one shared aiohttp session,
skips parsing when only the feed-level timestamp changed, turns entries into ``Incident``
values and decides what is news against what it remembers:

* an incident is *new* when its id was never seen, *updated* when its time moves forward or
  anything a reader sees changes (title, status, message, components, a new step);
* all the steps of one incident found in one read are one event, oldest incident first;
* a copy of a feed older than what was reported (a CDN edge behind the others) is silent;
* the first read of a feed is a baseline: only incidents still open are reported.

Usage::

    python status_tracker.py                          # watch the feeds in FEEDS
    python status_tracker.py --feed github --feed aws # pages of the catalogue, by key
    python status_tracker.py --feed Ours=https://status.example.com/   # found on the page
    python status_tracker.py --once --json            # one poll, JSON lines, exit code
    python status_tracker.py --status --fail-on major # a gate for CI: exit 3 if one is down
    python status_tracker.py --config tracker.toml --state state.json

The file, top to bottom; each section uses only what stands above it:

1. Constants: every tunable, with its reason.
2. Values: time helpers and the Clock, Kind, Phase and Impact, Incident and IncidentEvent,
   what is remembered of an incident (Seen) and of a feed (FeedState), a route's Outbox.
3. Pure core, no network, clock or printing:
   text (sanitising, HTML to text) -> reading feeds (one reader per platform in READERS,
   encodings, parse_feed) -> deciding what changed (decide) -> the Statuspage JSON API
   (components, impact, maintenance phases) -> other platforms' JSON documents (one reader
   each in DOC_READERS, read_document) -> health and pacing (next_health, Trouble)
   -> rendering (the console block, JSON, chat formats) -> the status board and --fail-on
   -> the catalogue of status pages by name (Platform, Page, find_page).
4. I/O edge: HTTP (fetch, validators, limits, proxies, the Statuspage API reader, Shared);
   discovery from a page's own address (discover); the state file (StateStore: one writer,
   atomic writes, copied spans); the history (SQLite: its schema and migrations, History,
   the one writer, batched in a thread of its own).
5. Delivery: the console (ConsolePrinter, StdoutWriter), routes and webhooks with their
   outboxes (WebhookSender), Apprise.
6. A feed's pipeline: FeedReader (fetch, fingerprint, parse) -> advance (decide, new state)
   -> StatuspageEnricher -> StatusPageMonitor (the wiring); the Scheduler of all polls.
7. Serving: /metrics, /healthz, /readyz, /status (Monitoring); the page of your dependencies,
   /vendor/KEY, /feed.atom, /maintenance.ics and the live updates of /events (Site).
8. Running: the watch and its reload (Fleet), cron mode (--once), the status board (--status),
   the history's report (--report), a page looked up (--discover, --components).
9. The CLI: options, the config file, signals, main(), the __main__ guard.
"""

from __future__ import annotations

import os
import signal
import sys

if sys.version_info < (3, 11):  # noqa: UP036 -- it is for the interpreters we do not support
    # Before anything that older versions lack (tomllib, enum.StrEnum, datetime.UTC) is
    # imported: one line that says what to do, not a traceback.
    print(f"status_tracker.py: error: Python 3.11 or newer is needed; {sys.executable} is "
          f"{sys.version.split()[0]}", file=sys.stderr)
    sys.exit(2)

if __name__ == "__main__":
    # Loading the modules below takes half a second, before any handler of ours is in place:
    # a Ctrl+C, SIGTERM or SIGHUP then ends the start quietly (nothing was read or written
    # yet), not with a KeyboardInterrupt traceback or a bare "Terminated"; --once and
    # --status then exit 1, as when stopped before every page answered.
    _stopped = 1 if {"--once", "--status"} & set(sys.argv) else 0
    signal.signal(signal.SIGINT, lambda _signum, _frame: os._exit(130))
    signal.signal(signal.SIGTERM, lambda _signum, _frame: os._exit(_stopped))
    if hasattr(signal, "SIGHUP"):
        # A reload asked for this early is moot: the config file is about to be read.
        _reloads = any(a == "--config" or a.startswith("--config=") for a in sys.argv)
        signal.signal(signal.SIGHUP, signal.SIG_IGN if _reloads else (
            lambda _signum, _frame: os._exit(_stopped)))

import argparse
import asyncio
import base64
import codecs
import collections
import contextlib
import dataclasses
import difflib
import email.utils
import errno
import functools
import gc
import hashlib
import heapq
import hmac
import html.parser
import importlib.util
import inspect
import io
import ipaddress
import itertools
import json
import logging
import math
import queue
import random
import re
import sqlite3
import stat
import tempfile
import threading
import time
import tomllib
import types
import typing
import urllib.parse
import weakref
import xml.sax
import xml.sax.expatreader
import zoneinfo
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import IO, Any, TextIO

try:
    import aiohttp
    import feedparser
    import yarl
    from aiohttp import web
except ModuleNotFoundError as missing:
    if __name__ != "__main__":
        raise
    # Run with an interpreter that lacks the requirements: one line that says what to do.
    print(f"status_tracker.py: error: the {missing.name} package is not installed for "
          f"{sys.executable}; install the requirements (pip install -r requirements.txt) in "
          "the project's virtual environment, as the README shows, and run it from there",
          file=sys.stderr)
    sys.exit(2)

__all__ = [
    "FEEDS", "Clock", "Component", "FeedError", "FeedOptions", "FeedState", "Impact",
    "Incident", "IncidentEvent", "Kind", "Page", "PageDoc", "Phase", "Platform", "Route",
    "Scheduler", "Shared", "StateStore", "StatusPageMonitor", "Step", "WebhookSender",
    "catalogue", "decide", "discover", "find_page", "format_event", "main", "parse_feed",
    "read_document", "run_status", "run_tracker",
]

log = logging.getLogger("status_tracker")

__version__ = "1.0.0"


# #### Constants: every tunable in one place, each with its reason #################################

# Watched when no --feed or --config is given. A config file is the place for more feeds.
FEEDS: list[tuple[str, str]] = [
    ("OpenAI", "https://status.openai.com/feed.atom"),
]

# --- Polling: pace and patience ---
DEFAULT_INTERVAL = 60.0
DEFAULT_MAX_INTERVAL = 600.0  # ceiling on server hints and backoff: an alert is never hours late
MIN_INTERVAL = 0.5  # shortest --interval: with none, one feed is polled as fast as the loop spins
START_SPREAD = 5.0  # first polls spread over at least this many seconds (within the interval)
FIRST_POLLS_PER_SECOND = 200  # a large fleet spreads its first polls wider: no bursts for ever
SCHEDULE_JITTER = 0.5  # seconds of jitter on the normal schedule, small enough for latency goals
MIN_BACKOFF = 1.0  # backoff base when --interval is 0, so a broken feed never spins
DEFAULT_PER_HOST = 4  # requests in flight per host; more gets pollers blocked by CDNs
DEFAULT_FAILURE_THRESHOLD = 3  # consecutive failures before a feed_down event
SLOT = 0.1  # polls due within this many seconds start on one wakeup (jitter is up to 0.5 s)
COLD_SHARE = 0.75  # of the loop's time, the most that first reads may spend parsing
COLD_BURST = 1.0  # seconds of parsing that first reads may do at once before pacing starts
PARSE_GUESS = 0.025  # seconds a first read is expected to parse, until one has been measured
PARSE_THREADS = 2  # large feeds parsed at once off the loop (one per core here)
ONCE_POLL_SECONDS = 60.0  # --once: polls still running after this are abandoned as failed
ONCE_DRAIN_SECONDS = 30.0  # --once: then webhook deliveries get this long before exit
STOP_FLUSH_SECONDS = 0.5  # after a stop, how long queued console output may take to drain
SUMMARY_WAIT_SECONDS = 0.5  # at exit, how long the summary waits for events still being printed

# --- HTTP: what is asked and what is accepted ---
# Constant request headers: a server may give each content coding its own ETag (RFC 9110 8.8.3),
# so nothing here may vary between polls. Brotli is left out because aiohttp decodes it only
# with an extra package. The User-Agent is the session's (see user_agent()).
REQUEST_HEADERS: Mapping[str, str] = {
    "Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.8",
    "Accept-Encoding": "gzip, deflate",
}
API_HEADERS: Mapping[str, str] = {**REQUEST_HEADERS, "Accept": "application/json"}
# One timer a request (no sock_read: every quiet poll would pay for a second one).
TIMEOUT = aiohttp.ClientTimeout(total=20, sock_connect=10)
API_TIMEOUT = aiohttp.ClientTimeout(total=5, sock_connect=3, sock_read=4)  # events wait on it
WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=20, sock_connect=10)
MAX_BODY = 10 * 1024 * 1024  # measured after decompression: 50 KB of gzip can inflate to 50 MB
MAX_API_BODY = 4 * 1024 * 1024
MAX_PAGE_BODY = 2 * 1024 * 1024  # a status page's HTML; its feed is fetched on its own
INLINE_PARSE_LIMIT = 64 * 1024  # larger bodies are parsed in a worker thread, off the loop
API_RETRY = 300.0  # after a failure, the API is left alone this long (events go out meanwhile)
MAINTENANCE_REFRESH = 600.0  # maintenances are read again at least this often

# --- What is read and remembered of a feed ---
MAX_TITLE = 300
MAX_MESSAGE = 4000  # bounds memory per incident; status updates are rarely longer
MAX_ENTRIES = 1000  # entries read per feed; real feeds carry 25-50
MAX_COMPONENTS = 50  # per event: a hostile body could name thousands
MAX_STEPS = 64  # of one incident in a platform's document: the newest are kept
MAX_KNOWN = 1000  # incidents remembered per feed beyond those in it now
FORGET_AFTER = timedelta(days=30)  # how long an incident that left the feed is remembered
EARLIER_COPIES = 4  # fingerprints of a feed's earlier copies remembered, so none is parsed twice
# Earlier versions of an incident from a feed without timelines (incident.io) that are
# remembered, by their digests, so that a stale copy showing one of them again is known as old.
VERSIONS_KEPT = 8
AWS_QUIET_GAP = timedelta(days=1)  # a post after a day without one opens a new AWS incident
CLOSED_STATUSES = frozenset({"resolved", "completed", "postmortem", "fixed"})

# --- Output: the console, the board and chat services' limits ---
CONSOLE_MESSAGE = 600  # characters of the message shown on the console
EARLIER_MESSAGE = 100  # characters of an earlier step's message in a console block or chat
CONSOLE_BACKLOG = 1000  # events held for a stdout nobody reads before newer ones are dropped
SHOWN_FEEDS = 10  # feeds named one by one in the startup line; a fleet is summarised
BOARD_MAINTENANCE_AHEAD = timedelta(days=7)  # maintenance the board shows before it begins
SLACK_LIMIT = 39_000  # Slack truncates text past 40,000 characters
SLACK_SECTION = 3000  # Slack refuses a section or context text longer than this
SLACK_BLOCKS = 50  # Slack refuses a message of more blocks
DISCORD_LIMIT = 2000  # Discord refuses content longer than this
DISCORD_DESCRIPTION = 3500  # of an embed's 4,096, so that one embed stays within the 6,000
DISCORD_EMBEDS = 10  # Discord refuses a message of more embeds
DISCORD_BUDGET = 5000  # characters of all the embeds of a digest, under Discord's 6,000
NTFY_LIMIT = 4000  # bytes: ntfy turns a message past 4,096 bytes into an attachment
TEAMS_LIMIT = 20_000  # Teams refuses cards past about 28 KB: the text stays well under

# --- Webhooks ---
SIGNATURE_HEADER = "X-Status-Tracker-Signature"
SECRET_ENV = "STATUS_TRACKER_WEBHOOK_SECRET"
WEBHOOK_MAX_DELAY = 300.0  # the longest a failing delivery waits before it is tried again
MAX_OUTBOX = 10_000  # events queued per webhook; about a year of a busy page's updates
APPRISE_TIMEOUT = 30.0  # one Apprise notify() call, run off the loop

# --- The state file and the config file ---
STATE_VERSION = 1
# Bytes of the state file read at a time when it is loaded: the file is never in memory whole,
# only the chunk being read and the member being decoded.
STATE_CHUNK = 1 << 20
# The most of the old file read at once while unchanged members are copied from it: one read
# and one write per megabyte rather than per member, without holding the whole file.
COPY_CHUNK = 1 << 20
# A monitor's write of the state file waits, after the last, nine times as long as that one
# took: so saving takes at most a tenth of the time, and a change is on disk within about ten
# writes' time.
SAVE_SPACING = 9.0
MAX_SAVE_DELAY = 300.0  # a failing state file is tried again at least this often
MAX_CONFIG_BYTES = 1024 * 1024  # a config file is small: a larger one is a wrong path

# --- History and the page of your dependencies ---
HISTORY_DAYS = 365  # kept by default; older rows are pruned once a day
HISTORY_BATCH_SECONDS = 0.5  # records wait this long to be written together
FEED_ENTRIES = 100  # /feed.atom: the newest events, at most this many ...
FEED_DAYS = 30  # ... and none older than this many days
BAR_DAYS = 90  # days in a vendor's bar on the page, as Statuspage shows them

# --- Metrics ---
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The metric families one feed has lines in, in the order Monitoring._feed_lines makes them.
POLL_FAMILIES = (
    ("status_tracker_feed_up", "gauge",
     "1 when the feed was read at its last poll, 0 while it fails."),
    ("status_tracker_feed_last_success_timestamp_seconds", "gauge",
     "Unix time of the feed's last good read."),
    ("status_tracker_polls_total", "counter", "Polls by result."),
    ("status_tracker_parses_total", "counter", "Feed documents parsed."),
    ("status_tracker_bytes_received_total", "counter",
     "Feed bytes received (after decompression)."),
    ("status_tracker_events_total", "counter", "Events reported, by kind."),
    ("status_tracker_open_incidents", "gauge", "Incidents open in the feed's last read."),
)
# Every family /metrics serves: name, type and help, in the order it writes them.
METRIC_FAMILIES = (
    ("status_tracker_build_info", "gauge", "Always 1; the version is a label."),
    *POLL_FAMILIES,
    ("status_tracker_component_status", "gauge",
     "1 for the component's current status, 0 for the others (where known)."),
    ("status_tracker_webhook_outbox_events", "gauge",
     "Events waiting for delivery (queued, and held by quiet hours or a digest)."),
    ("status_tracker_webhook_deliveries_total", "counter", "Delivery attempts by result."),
)

# --- Exit codes ---
# 70 is EX_SOFTWARE (sysexits.h): a bug stopped a task, so a supervisor should restart us.
EXIT_OK, EXIT_FEED_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 70, 130
EXIT_FAIL_ON = 3  # --status --fail-on: a page (or a component named) is at that level or worse
EXIT_BROKEN_PIPE = 141  # what the shell says of a program its reader stopped reading (SIGPIPE)


# #### Values: time, incidents, events, and what is remembered of them #############################


class FeedError(Exception):
    """A feed could not be read; the message says why in one line."""

    def __init__(self, message: str, *, retry_after: float | None = None,
                 gone: bool = False, html: bool = False, missing: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.gone = gone
        self.html = html  # a web page came instead: the page may name its feed
        self.missing = missing or gone  # 404 or 410: a feed found on a page may have moved
        # The feed's state as the failed poll left it, when the poll changed it before it
        # failed (a feed found anew on its page, then not read): it must be kept.
        self.state: FeedState | None = None


_NO_TIME = datetime.min.replace(tzinfo=UTC)  # sorts undated entries first
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    seconds = value.timestamp()
    return int(seconds) if seconds.is_integer() else seconds  # "1762180000", not "…000.0"


def _from_epoch(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"bad time {value!r}")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"bad time {value!r}") from None


class Clock:
    """The one source of time: wall time (an aware UTC datetime) for moments a page or a person
    means, monotonic seconds for waits and durations. main() makes one and hands it down;
    tests hand in one they move by hand."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True, slots=True)
class Step:
    """One update in an incident's timeline (a Statuspage block, or one Google Cloud entry)."""

    status: str
    message: str
    at: datetime | None
    key: str  # identity of the step, so a step is reported once however often it is seen


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident as the feed shows it now; all text is plain and safe to print."""

    id: str
    title: str
    link: str
    status: str
    components: tuple[str, ...]
    message: str
    published: datetime | None
    updated: datetime | None
    steps: tuple[Step, ...] = ()  # oldest first; empty where the feed keeps no timeline
    code: str = ""  # Statuspage's incident id (the end of its link), for the JSON API
    maintenance: bool = False  # a Statuspage maintenance window, not an incident
    impact: str | None = None  # none, minor, major, critical, maintenance (from the API)
    scheduled_for: datetime | None = None  # maintenance windows only
    scheduled_until: datetime | None = None

    @property
    def active(self) -> bool:
        return bool(self.status) and self.status.lower() not in CLOSED_STATUSES


class Kind(StrEnum):
    """What an event says: an incident new, updated, open or recent at first sight; a
    maintenance window's phase; a feed's health."""

    NEW = "new"
    UPDATED = "updated"
    ACTIVE = "active"
    HISTORY = "history"
    MAINTENANCE_SCHEDULED = "maintenance_scheduled"
    MAINTENANCE_STARTED = "maintenance_started"
    MAINTENANCE_COMPLETED = "maintenance_completed"
    FEED_DOWN = "feed_down"
    FEED_RECOVERED = "feed_recovered"

    @property
    def maintenance(self) -> bool:
        return self in (Kind.MAINTENANCE_SCHEDULED, Kind.MAINTENANCE_STARTED,
                        Kind.MAINTENANCE_COMPLETED)

    @property
    def label(self) -> str:
        """As the console block and chat messages say it."""
        return _KIND_LABELS[self]


_KIND_LABELS = {
    Kind.NEW: "New incident", Kind.UPDATED: "Update",
    Kind.ACTIVE: "Ongoing (open when watching started)", Kind.HISTORY: "Recent (history)",
    Kind.MAINTENANCE_SCHEDULED: "Maintenance scheduled",
    Kind.MAINTENANCE_STARTED: "Maintenance started",
    Kind.MAINTENANCE_COMPLETED: "Maintenance completed",
    Kind.FEED_DOWN: "Feed down", Kind.FEED_RECOVERED: "Feed recovered"}


class Phase(IntEnum):
    """A maintenance window's phases, in the order they come; each is said once."""

    SCHEDULED = 1
    STARTED = 2
    COMPLETED = 3

    @property
    def kind(self) -> Kind:
        return (Kind.MAINTENANCE_SCHEDULED, Kind.MAINTENANCE_STARTED,
                Kind.MAINTENANCE_COMPLETED)[self - 1]

    @property
    def status(self) -> str:
        """The status word an event shows for the phase."""
        return ("Scheduled", "In progress", "Completed")[self - 1]

    @property
    def key(self) -> str:
        """As the state file keeps it."""
        return self.name.lower()

    @classmethod
    def of(cls, status: str) -> Phase | None:
        """The phase a status word names ("In progress" as the feed writes it, "in_progress"
        as the API does), or None for an incident's status."""
        return _PHASE_OF.get(status.lower().replace(" ", "_"))


_PHASE_OF = {"scheduled": Phase.SCHEDULED, "in_progress": Phase.STARTED,
             "verifying": Phase.STARTED, "completed": Phase.COMPLETED}
_PHASE_KEYS = {phase.key: phase for phase in Phase}


class Impact(StrEnum):
    """An incident's impact as Statuspage rates it; "maintenance" stands outside the order."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"

    @property
    def rank(self) -> int:
        """Its place from none (0) to critical (3); maintenance ranks with none."""
        return _IMPACT_RANK.get(self, 0)

    @classmethod
    def read(cls, value: object) -> Impact | None:
        """The impact a source names, or None for anything else."""
        return cls(value) if isinstance(value, str) and value in _IMPACT_NAMES else None

    @classmethod
    def worst(cls, impacts: Iterable[object]) -> Impact | None:
        """The worst of the ranked impacts among `impacts` (maintenance and unknown aside)."""
        ranked = [i for i in map(cls.read, impacts) if i in _IMPACT_RANK]
        return max(ranked, key=lambda i: i.rank) if ranked else None


_IMPACT_NAMES = frozenset(i.value for i in Impact)
_IMPACT_RANK = {Impact.NONE: 0, Impact.MINOR: 1, Impact.MAJOR: 2, Impact.CRITICAL: 3}
IMPACTS = tuple(_IMPACT_RANK)  # what --min-impact and min_impact accept, in order


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """What the callback receives: an incident event, or a change in a feed's health."""

    feed: str
    kind: Kind
    incident: Incident | None = None
    error: str | None = None
    at: datetime | None = None  # when a health event happened

    @property
    def event_id(self) -> str:
        """Stable for the same incident version, so webhook receivers can de-duplicate."""
        if self.incident is None:
            parts = [self.feed, self.kind, self.error or "", _iso(self.at) or ""]
        else:
            inc = self.incident
            parts = [self.feed, inc.id, _iso(inc.updated) or "", inc.status, inc.message]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


_HEX_DIGEST = re.compile(r"[0-9a-f]{16}")  # what _digest makes: 8 bytes as hex
_NO_UPDATED = -(1 << 63)  # an incident without a time of its own, packed
_OLDEST = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
_NEWEST = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND


def _pack_time(updated: datetime | None) -> bytes | None:
    """An incident's time as 8 bytes of microseconds since 1970 (_NO_UPDATED for none); None
    for a time without a zone, or one that another zone puts outside the range in UTC (year 1
    at +01:00): those cannot be read back as they came."""
    if updated is None:
        micros = _NO_UPDATED
    elif updated.utcoffset() is None:
        return None
    else:
        micros = (updated - _EPOCH) // _MICROSECOND
        if not _OLDEST <= micros <= _NEWEST:
            return None
    return micros.to_bytes(8, "big", signed=True)


def _unpack_time(packed: bytes) -> int | None:
    """What _pack_time put first in `packed`; None for an incident without a time."""
    micros = int.from_bytes(packed[:8], "big", signed=True)
    return None if micros == _NO_UPDATED else micros


class Seen:
    """What is remembered of one incident: enough to tell new, updated and unchanged apart.

    The incident's time (microseconds since 1970), its digest and its step keys (from
    _digest, 16 hex digits each) are kept packed, 8 raw bytes each, in one bytes object: a
    large fleet's memory is mostly these, and strings, tuples and datetimes of their own
    would cost several times as much. A digest or key of any other shape (a state file edited
    by hand), or a time without a zone, is kept as it came.
    """

    __slots__ = ("_packed", "last_seen")

    def __init__(self, updated: datetime | None, digest: str, steps: tuple[str, ...],
                 last_seen: datetime) -> None:
        self.last_seen = last_seen
        self._packed: bytes | tuple[datetime | None, str, tuple[str, ...]]
        when = _pack_time(updated)
        if (when is not None and _HEX_DIGEST.fullmatch(digest)
                and all(_HEX_DIGEST.fullmatch(k) for k in steps)):
            self._packed = when + bytes.fromhex(digest + "".join(steps))
        else:
            self._packed = (updated, digest, steps)

    @property
    def updated(self) -> datetime | None:
        packed = self._packed
        if not isinstance(packed, bytes):
            return packed[0]
        micros = _unpack_time(packed)
        return None if micros is None else _EPOCH + micros * _MICROSECOND

    def updated_epoch(self) -> float | None:
        """_epoch(self.updated), from the packed microseconds without building a datetime:
        the state file writes every incident's time, and datetime.timestamp() is this same
        division of the microseconds since 1970."""
        packed = self._packed
        if not isinstance(packed, bytes):
            return _epoch(packed[0])
        micros = _unpack_time(packed)
        if micros is None:
            return None
        seconds = micros / 1_000_000
        return int(seconds) if seconds.is_integer() else seconds

    @property
    def digest(self) -> str:
        packed = self._packed
        return packed[8:16].hex() if isinstance(packed, bytes) else packed[1]

    @property
    def steps(self) -> tuple[str, ...]:
        return self.digest_and_steps()[1]

    def digest_and_steps(self) -> tuple[str, tuple[str, ...]]:
        """Both at once, from one hex conversion (the state file writes every incident's)."""
        packed = self._packed
        if not isinstance(packed, bytes):
            return packed[1], packed[2]
        digest, *steps = packed[8:].hex(" ", -8).split(" ")  # 16 digits, a space, 16 digits…
        return digest, tuple(steps)

    def seen_at(self, when: datetime) -> Seen:
        """The same memory, last seen `when`."""
        again = Seen.__new__(Seen)
        again._packed, again.last_seen = self._packed, when
        return again

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Seen):
            return NotImplemented
        return (self._packed, self.last_seen) == (other._packed, other.last_seen)

    __hash__ = None  # type: ignore[assignment]  # equal by value, so no hash of its own

    def __repr__(self) -> str:
        return (f"Seen(updated={self.updated!r}, digest={self.digest!r}, "
                f"steps={self.steps!r}, last_seen={self.last_seen!r})")


@dataclass(frozen=True, slots=True)
class Found:
    """What a look at a status page's own address found: its platform, the document to poll,
    and where its Statuspage-shaped API and its component list live."""

    platform: str
    url: str
    api: str | None = None
    components: str | None = None

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in (("platform", self.platform), ("url", self.url),
                                  ("api", self.api), ("components", self.components)) if v}

    @classmethod
    def from_json(cls, data: object) -> Found:
        if not isinstance(data, dict) or not all(
                isinstance(data.get(k), str) for k in ("platform", "url")):
            raise ValueError("bad discovery record")
        return cls(data["platform"], data["url"], *(
            v if isinstance(v := data.get(k), str) else None for k in ("api", "components")))


@dataclass(frozen=True, slots=True)
class FeedState:
    """Everything remembered of one feed between polls (and, with --state, between runs).

    A value: a poll that changes it makes a new one and hands it to the state store, which
    writes that feed again at its next save (StateStore.changed); nothing is changed in place.
    """

    etag: str | None = None
    last_modified: str | None = None
    fingerprint: str | None = None
    entries: int = 0
    known: Mapping[str, Seen] = field(default_factory=dict)
    first_sight: bool = True
    # Consecutive failed polls and whether feed_down was sent: kept in the state file so that
    # cron mode (--once --state) reports a feed down after as many failed reads as watch mode.
    failures: int = 0
    down: bool = False
    # Maintenance windows by code: the last phase reported and when the window was last seen.
    # None until the maintenance list was first read (that read is a baseline).
    maintenances: Mapping[str, tuple[Phase, datetime]] | None = None
    statuspage: bool = False  # its entries showed it to be a Statuspage feed (it has an API)
    open_incidents: int = 0  # in its last read
    maintenances_tried: datetime | None = None  # the last read of the maintenance list
    found: Found | None = None  # where a page named by its own address keeps its feed


@dataclass(frozen=True, slots=True)
class Queued:
    """A body waiting to be delivered to a route, in the route's format."""

    event_id: str
    body: str


@dataclass(slots=True)
class Outbox:
    """What a route has not delivered yet (kept in the state file): bodies queued in order,
    and events held by quiet hours or a digest since `held_since`. Only the route's sender
    changes it."""

    queued: list[Queued] = field(default_factory=list)
    held: list[IncidentEvent] = field(default_factory=list)
    held_since: datetime | None = None

    def __len__(self) -> int:
        return len(self.queued) + len(self.held)


class StartupError(Exception):
    """Something the user asked for cannot start (a port in use); exit 2 with this line."""


class ConfigError(Exception):
    pass


# #### Pure core: text #############################################################################


_ESCAPE_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI, 7- and 8-bit
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC (hyperlinks, titles)
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]?"  # any other escape
)


# Lone surrogates come from undecodable bytes (argv, headers): they cannot be printed or saved.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


_BLOCK_TAGS = frozenset(
    {"br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "hr", "h1", "h2", "h3", "h4",
     "h5", "h6", "blockquote", "pre", "table", "section", "article", "header", "footer"}
)


# Where an escape sequence can begin: every alternative of _ESCAPE_SEQUENCES starts here.
_ESCAPE_START = re.compile("[\x1b\x90-\x9f]")


def clean_text(text: str) -> str:
    """Remove terminal escape sequences, control characters and bidi overrides; collapse spaces."""
    # Runs on every field of every parsed entry. Text that str.isprintable() passes holds
    # none of what is removed (control and format characters, surrogates), and the escape
    # pattern, the costly pass, is tried only where an escape can begin.
    if not text.isprintable():
        if _ESCAPE_START.search(text):
            text = _ESCAPE_SEQUENCES.sub("", text)
        text = _UNPRINTABLE.sub(" ", text)
    return " ".join(text.split())


class _TextExtractor(html.parser.HTMLParser):
    def __init__(self, *, links: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._links = links
        self._hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")
        elif tag == "a" and self._links:
            self._hrefs.append(next((v or "" for k, v in attrs if k == "href"), ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")
        elif tag == "a" and self._hrefs:
            href = self._hrefs.pop()
            if href.startswith(("http://", "https://")):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


_KNOWN_TAG = re.compile(
    r"</?(?:a|b|i|u|em|strong|br|p|div|span|li|ul|ol|small|code|pre|h[1-6])(?:\s[^<>]*)?/?>",
    re.I)


def html_to_text(markup: str) -> str:
    """Plain, printable, single-line text from an HTML fragment (entities unescaped).

    Markup escaped twice (AWS puts "&lt;br&gt;" inside CDATA) still shows tags after one
    pass: it gets more passes, and then its links keep their address as text.
    """
    if "<" not in markup and "&" not in markup:
        return clean_text(markup)
    text = _plain_markup_text(markup)
    if text is None:
        text = _extract_text(markup, links=False)
    for _ in range(2):
        if not _KNOWN_TAG.search(text):
            break
        text = _extract_text(text, links=True)
    return text


_TEXT_AND_TAGS = re.compile(r"(<[^<>]*>)")  # split(): text, tag, text, …, text


_PLAIN_TAG = re.compile(
    r"</?([a-zA-Z][a-zA-Z0-9]*)"
    r"(?:\s+[a-zA-Z_:][-\w:.]*(?:\s*=\s*(?:'[^'<>]*'|\"[^\"<>]*\"))?)*\s*/?>")


# Tags whose text HTMLParser passes on as it is, in every Python version: a fragment with any
# other (script and style, whose text is dropped; comments; declarations) goes to the parser.
_PLAIN_TAGS = _BLOCK_TAGS | {
    "a", "b", "i", "u", "s", "em", "strong", "span", "small", "big", "code", "var", "kbd",
    "samp", "sup", "sub", "font", "abbr", "mark", "strike", "del", "ins", "time", "cite", "q"}


def _plain_markup_text(markup: str) -> str | None:
    """What _extract_text(markup, links=False) gives, without building an HTML parser, for
    the fragments feeds are made of: text and well-formed formatting tags, nothing else (None
    for anything more, which goes to the parser). Statuspage alone has three such fragments
    per update (its time, its status, its text); the parser costs most of a parse for them."""
    parts: list[str] = []
    for n, piece in enumerate(_TEXT_AND_TAGS.split(markup)):
        if n % 2 == 0:  # the text before a tag, or after the last
            if "<" in piece:
                return None
            parts.append(html.unescape(piece) if "&" in piece else piece)
            continue
        plain = _PLAIN_TAG.fullmatch(piece)
        if plain is None:
            return None
        name = plain[1].lower()
        if name not in _PLAIN_TAGS:
            return None
        if name in _BLOCK_TAGS:
            parts.append(" ")
    return clean_text("".join(parts))


def _extract_text(markup: str, *, links: bool) -> str:
    extractor = _TextExtractor(links=links)
    extractor.feed(markup)
    extractor.close()
    return clean_text("".join(extractor.parts))


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def feed_name(text: str) -> str:
    """A feed name as it will be printed: through the same sanitiser as feed text, so a name
    cannot forge a log line or move the cursor."""
    return clean_text(text)[:MAX_TITLE]


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def redact_url(url: str) -> str:
    """Scheme, host and port only: webhook URLs carry their secret in the path or query."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unreadable URL)"
    host = f"[{host}]" if ":" in host else host
    return clean_text(f"{parts.scheme}://{host}{port}/…")


def public_url(url: str) -> str:
    """Scheme, host, port and path, for the one place a user must see where a feed went: a
    query, userinfo or fragment may carry a token and is never shown."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
    except ValueError:
        return redact_url(url)
    return clean_text(f"{parts.scheme}://{host}{port}{parts.path}")


_URL_IN_TEXT = re.compile(r"(?i)\b(?:https?|wss?)://[^\s'\"<>]+")


def redact_urls_in(text: str) -> str:
    """Library error texts quote whole URLs (aiohttp: "…, url='…'"): keep scheme and host."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m[0]), text)


def exception_words(exc: BaseException, limit: int = 200) -> str:
    """An exception nobody foresaw, for a log line: "KeyError: 'x'", printable, no URL's path
    or query (where secrets live), at most `limit` characters."""
    return clean_text(redact_urls_in(f"{type(exc).__name__}: {exc}"))[:limit]


# #### Pure core: reading feeds (one reader per platform) ##########################################


_INCIDENT_IO_STATUS = re.compile(r"^\s*<b>\s*Status:\s*([^<]+?)\s*</b>", re.I)
_INCIDENT_IO_COMPONENTS = re.compile(r"<b>\s*Affected components\s*</b>(.*)$", re.I | re.S)
_LIST_ITEM = re.compile(r"<li[^>]*>(.*?)</li>", re.I | re.S)


_STATUSPAGE_STEP = re.compile(
    r"<small>(?P<when>.*?)</small>\s*(?:<br\s*/?>\s*)*<strong>(?P<status>.*?)</strong>"
    r"\s*(?:-|&#8211;|–)?(?P<body>.*?)(?=<small>|\Z)",
    re.I | re.S,
)


_TITLE_PREFIX = re.compile(r"^(?P<prefix>[A-Z][A-Z ]{2,}):\s+(?P<rest>.+)$")  # Google Cloud
_AWS_TITLE = re.compile(r"^(?P<prefix>[A-Z][A-Za-z ]+):\s+(?P<rest>.+)$")
_RESOLVED_MARK = re.compile(r"\[RESOLVED\]\s*", re.I)


# AWS post guids: "http://status.aws.amazon.com/#ec2-us-east-1_1640218920" (service, region, time)
_AWS_POST_ID = re.compile(
    r"^https?://(?:status|health)\.aws\.amazon\.com/[^#]*#(?P<service>[a-z0-9-]+)_\d+$")


_GCP_UPDATE_ID = re.compile(r"^(tag:status\.cloud\.google\.com,\d+:feed:[^.]+)\.[^.]+$")
_GCP_AFFECTED = re.compile(r"Affected products:\s*(.+?)(?:\s*Affected locations:.*)?$", re.S)


_STEP_WHEN = re.compile(
    r"(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2}),\s*(?:(?P<year>\d{4}),?\s*)?"
    r"(?P<h>\d{1,2}):(?P<m>\d{2})\s*(?P<zone>[A-Z]{2,5})?"
)


_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


# Zones seen in Statuspage timelines; an unknown one leaves the step without a time.
_ZONES = {"UTC": 0, "GMT": 0, "Z": 0, "PST": -8, "PDT": -7, "MST": -7, "MDT": -6, "CST": -6,
          "CDT": -5, "EST": -5, "EDT": -4, "CET": 1, "CEST": 2, "BST": 1, "EET": 2, "EEST": 3,
          "JST": 9, "AEST": 10, "AEDT": 11}


def _struct_to_utc(value: Any) -> datetime | None:
    # feedparser's *_parsed values are UTC struct_times (or None when it could not read a date).
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _step_time(when: str, reference: datetime | None) -> datetime | None:
    """The time of a Statuspage step ("Nov 20, 18:35 PST"); the year comes from the entry."""
    match = _STEP_WHEN.search(when)
    if not match or (match["zone"] or "UTC") not in _ZONES or reference is None:
        return None
    offset = timedelta(hours=_ZONES[match["zone"] or "UTC"])

    def at(year: int) -> datetime:
        local = datetime(year, _MONTHS[match["mon"]], int(match["day"]), int(match["h"]),
                         int(match["m"]), tzinfo=UTC)
        return local - offset

    try:
        if match["year"]:
            return at(int(match["year"]))
        guess = at(reference.year)
        # A December step in an entry updated in January belongs to the year before.
        return at(reference.year - 1) if guess > reference + timedelta(days=2) else guess
    except (KeyError, ValueError):
        return None


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _entry_html(entry: Mapping[str, Any]) -> str:
    content = entry.get("content")
    if content:
        return str(content[0].get("value", ""))
    return str(entry.get("summary", ""))


def _entry_title(entry: Mapping[str, Any]) -> str:
    title = str(entry.get("title", ""))
    detail = entry.get("title_detail") or {}
    text = clean_text(title) if detail.get("type") == "text/plain" else html_to_text(title)
    return _clip(text, MAX_TITLE)


def _statuspage_steps(markup: str, reference: datetime | None) -> list[Step]:
    found = []
    for match in _STATUSPAGE_STEP.finditer(markup):
        when = html_to_text(match["when"])
        status = html_to_text(match["status"])
        message = _clip(html_to_text(match["body"]).lstrip("- "), MAX_MESSAGE)
        if status:
            found.append((when, status, message))
    steps: list[Step] = []
    current = ""
    for when, word, message in reversed(found):  # Statuspage lists the newest first
        # "Update" says only that text was added: the incident keeps its last real status.
        is_update = word.lower() == "update"
        current = (current or word) if is_update else word
        steps.append(Step(current, message, _step_time(when, reference),
                          _digest(when, word, message)))
    return steps


@dataclass(frozen=True, slots=True)
class RawEntry:
    """What every platform reader starts from: one feedparser entry, its common fields read."""

    id: str
    title: str
    link: str
    markup: str
    published: datetime | None
    updated: datetime | None


def _raw_entry(entry: Mapping[str, Any]) -> RawEntry:
    title = _entry_title(entry)
    link = clean_text(str(entry.get("link", "")))
    published = _struct_to_utc(entry.get("published_parsed"))
    # entry.get("updated") silently falls back to "published": look for the real field.
    updated = _struct_to_utc(entry["updated_parsed"]) if "updated_parsed" in entry else None
    ident = clean_text(str(entry.get("id") or "")) or link or _digest(title, _iso(published) or "")
    return RawEntry(ident, title, link, _entry_html(entry), published, updated)


def _incident(raw: RawEntry, **fields: Any) -> Incident:
    values: dict[str, Any] = {
        "id": raw.id, "title": raw.title, "link": raw.link, "status": "", "components": (),
        "message": "", "published": raw.published, "updated": raw.updated, **fields}
    values["status"] = _clip(values["status"], 60)
    values["message"] = _clip(values["message"], MAX_MESSAGE)
    return Incident(**values)


def read_incidentio(raw: RawEntry) -> Incident | None:
    """incident.io (OpenAI): "<b>Status: X</b>", the latest message, then the components."""
    match = _INCIDENT_IO_STATUS.search(raw.markup)
    if not match:
        return None
    rest = raw.markup[match.end():]
    components: tuple[str, ...] = ()
    if comp_match := _INCIDENT_IO_COMPONENTS.search(rest):
        components = tuple(
            c for c in (html_to_text(li) for li in _LIST_ITEM.findall(comp_match[1])) if c)
        rest = rest[: comp_match.start()]
    return _incident(raw, status=html_to_text(match[1]), message=html_to_text(rest),
                     components=components)


_STATUSPAGE_ID = re.compile(r"^tag:[^,]+,2005:Incident/\d+$")
_STATUSPAGE_LINK = re.compile(r"^https?://[^/]+(?:/[^/]+)*/incidents/([A-Za-z0-9]+)/?$")
_STATUSPAGE_FEED_ID = re.compile(rb"<id>\s*tag:[^,<]+,2005:/history\s*</id>")


def read_statuspage(raw: RawEntry) -> Incident | None:
    """Atlassian Statuspage: the whole timeline, newest first, one block per step."""
    found = _statuspage_steps(raw.markup, raw.updated or raw.published)
    if not found:
        return None
    updated = raw.updated
    if updated is None:
        # Statuspage RSS: pubDate is the creation time; the newest step says when it moved.
        updated = max((s.at for s in found if s.at), default=raw.published)
    code = ""
    link = _STATUSPAGE_LINK.match(raw.link)
    if link and (_STATUSPAGE_ID.match(raw.id) or raw.id == raw.link):
        code = link[1]  # the API's incident id: the join key with /api/v2/incidents.json
    maintenance = any(Phase.of(s.status) for s in found)
    return _incident(raw, status=found[-1].status, message=found[-1].message, updated=updated,
                     steps=tuple(found), code=code, maintenance=maintenance)


def read_google_cloud(raw: RawEntry) -> Incident | None:
    """Google Cloud: one entry per update, "RESOLVED: title", products at the end."""
    match = _TITLE_PREFIX.match(raw.title) if _GCP_UPDATE_ID.match(raw.id) else None
    if not match:
        return None
    message = html_to_text(raw.markup)
    components: tuple[str, ...] = ()
    if affected := _GCP_AFFECTED.search(message):
        components = tuple(p.strip() for p in affected[1].split(",") if p.strip())
    return _incident(raw, status=match["prefix"].strip().capitalize(), title=match["rest"],
                     message=message, components=components)


def read_aws(raw: RawEntry) -> Incident | None:
    """AWS Health: one item per post, "Service disruption: [RESOLVED] title"; the posts of an
    incident are folded together by _fold_updates, which also reads the [RESOLVED] mark that
    AWS adds to every post of an incident once it is over (so it stays in the title here)."""
    match = _AWS_TITLE.match(raw.title) if _AWS_POST_ID.search(raw.id) else None
    if not match:
        return None
    prefix = match["prefix"].strip()
    normal = "operating normally" in prefix.lower()
    return _incident(raw, status="Resolved" if normal else prefix, title=match["rest"],
                     message=html_to_text(raw.markup), updated=raw.updated or raw.published)


def read_generic(raw: RawEntry) -> Incident:
    """Any other feed: the text as it is; "[RESOLVED]" in a title is the one status known."""
    if _RESOLVED_MARK.search(raw.title):
        return _incident(raw, status="Resolved", title=_RESOLVED_MARK.sub("", raw.title).strip(),
                         message=html_to_text(raw.markup))
    return _incident(raw, message=html_to_text(raw.markup))


# Tried in order; the first that recognises an entry reads it. A new platform is a new reader.
READERS: tuple[Callable[[RawEntry], Incident | None], ...] = (
    read_incidentio, read_statuspage, read_google_cloud, read_aws)


def _parse_entry(entry: Mapping[str, Any]) -> Incident:
    raw = _raw_entry(entry)
    for reader in READERS:
        if (found := reader(raw)) is not None:
            return found
    return read_generic(raw)


def _fold_updates(incidents: list[Incident]) -> list[Incident]:
    """Google Cloud and AWS give each update its own entry: fold them into incidents with
    steps. Google Cloud names the incident in each update's id; AWS only the service and
    region, so a service's posts are one incident from the first until AWS says the service
    operates normally again (or a day passes without a post)."""
    groups: dict[tuple[str, str], list[Incident]] = {}
    for inc in incidents:
        if gcp := _GCP_UPDATE_ID.match(inc.id):
            platform_key = ("gcp", gcp[1])
        elif aws := _AWS_POST_ID.search(inc.id):
            platform_key = ("aws", aws["service"])
        else:
            platform_key = ("", inc.id)
        groups.setdefault(platform_key, []).append(inc)
    folded = []
    for (platform, key), group in groups.items():
        if not platform:
            folded += group
            continue
        group.sort(key=lambda i: i.updated or _NO_TIME)
        if platform == "gcp":
            folded.append(_folded(group, key))
        else:
            folded += [_folded(posts, posts[0].id, _aws_component(key))
                       for posts in _aws_incidents(group)]
    return folded


def _folded(group: Sequence[Incident], ident: str, component: str | None = None) -> Incident:
    """One incident from its updates, oldest first; each update's id is its step's key."""
    latest = group[-1]
    steps = [Step(i.status, i.message, i.updated, _digest(i.id)) for i in group]
    title = latest.title
    if _RESOLVED_MARK.search(title):  # AWS: the incident is over, whatever its last post says
        title = _RESOLVED_MARK.sub("", title).strip()
        steps[-1] = dataclasses.replace(steps[-1], status="Resolved")
    first = group[0].published or group[0].updated
    return dataclasses.replace(latest, id=ident, title=title, status=steps[-1].status,
                               published=first, steps=tuple(steps),
                               components=(component,) if component else latest.components)


def _aws_incidents(posts: Sequence[Incident]) -> list[list[Incident]]:
    """One service's posts, oldest first, cut into incidents."""
    incidents: list[list[Incident]] = []
    for post in posts:
        last = incidents[-1][-1] if incidents else None
        if (last is None or last.status == "Resolved"
                or (post.updated or _NO_TIME) - (last.updated or _NO_TIME) > AWS_QUIET_GAP):
            incidents.append([post])
        else:
            incidents[-1].append(post)
    return incidents


_AWS_REGION = re.compile(r"(?P<service>.+?)-(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d+)")


def _aws_component(service: str) -> str:
    """"ec2 (us-east-1)" from the guid's "ec2-us-east-1"; an older name ("s3-us-standard")
    as it is."""
    match = _AWS_REGION.fullmatch(service)
    return f"{match['service']} ({match['region']})" if match else service


# Byte order marks, longest first: UTF-32 LE's begins with UTF-16 LE's.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))


_CHARSET = re.compile(r";\s*charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_DECLARED = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


def _wide_encoding(body: bytes) -> str | None:
    """UTF-16 or UTF-32 without a byte order mark, told by where the zero bytes of an ASCII
    first character ("<" or whitespace) fall (XML 1.0, appendix F.1)."""
    head = body[:4]
    if len(head) < 4:
        return None
    if head[:3] == b"\x00\x00\x00" and head[3]:
        return "utf-32-be"
    if head[0] and head[1:] == b"\x00\x00\x00":
        return "utf-32-le"
    if not head[0] and head[1] and not head[2] and head[3]:
        return "utf-16-be"
    if head[0] and not head[1] and head[2] and not head[3]:
        return "utf-16-le"
    return None


def body_encoding(body: bytes, content_type: str = "") -> str:
    """The encoding a body is in (lower case): a byte order mark; else UTF-16 or UTF-32 told
    by its first bytes; else the XML declaration (one readable as ASCII cannot truly say
    UTF-16); else the Content-Type's charset; else UTF-8. The declaration comes before the
    charset, although RFC 7303 section 3 puts it after: it is what the feed's generator wrote,
    while many servers add a default charset to every response."""
    for mark, name in _BOMS:
        if body.startswith(mark):
            return name
    if (wide := _wide_encoding(body)) is not None:
        return wide
    declared = _DECLARED.match(body)
    charset = _CHARSET.search(content_type)
    name = (declared[1].decode("ascii") if declared else charset[1] if charset else "").lower()
    # Text read as ASCII here is no UTF-16 or UTF-32, whatever the label says.
    return name if name and not name.startswith(("utf-16", "utf-32", "ucs")) else "utf-8"


def as_utf8(body: bytes, content_type: str = "") -> bytes:
    """The body in UTF-8, its XML declaration saying so, so that every limit and check that
    reads bytes (the entry cap, the DOCTYPE strip, a cut-off document, an HTML page) reads what
    the body really says. A UTF-8 body comes back as it is; one in an encoding Python does not
    know is left for the parser to judge."""
    encoding = body_encoding(body, content_type)
    if encoding in _UTF8_NAMES:
        return body[len(codecs.BOM_UTF8):] if body.startswith(codecs.BOM_UTF8) else body
    try:
        text = body.decode(encoding, "replace")
    except LookupError:
        return body
    text = text.removeprefix("\ufeff")
    data = text.encode("utf-8", "replace")
    if (declared := _DECLARED.match(data)) is not None:
        data = data[:declared.start(1)] + b"utf-8" + data[declared.end(1):]
    return data


_COMPLETE_DOCUMENT = re.compile(rb"</(?:\w+:)?(?:feed|rss|RDF)>\s*(?:<!--.*?-->\s*)*\Z", re.S)
_DOCTYPE = re.compile(rb"<!DOCTYPE(?:[^\[>]|\[.*?\])*>", re.I | re.S)


def _strip_doctype(body: bytes) -> bytes:
    """Drop the DOCTYPE and its entity declarations before any XML parser sees them.

    feedparser keeps "safe" entity declarations, and its expat pass expands nested ones until
    expat's amplification guard trips: about 1.5 s of CPU for a billion-laughs feed. Without
    the declarations nothing expands and no external entity is ever resolved.
    """
    if b"<!DOCTYPE" not in body[:4096].upper():
        return body
    return _DOCTYPE.sub(b"", body, count=1)


_ENTRY_START = re.compile(rb"<(?:[\w.-]+:)?(?:entry|item)[\s>/]")
_ENTRY_END = re.compile(rb"</(?:[\w.-]+:)?(?:entry|item)\s*>")


def cut_entries(body: bytes, limit: int) -> bytes:
    """The document with only its first `limit` entries, so a feed of 50,000 entries costs no
    more to parse than one of `limit`: the part from the first extra entry up to the end of
    the last one is removed, and what follows it (closing tags) is kept."""
    starts = _ENTRY_START.finditer(body)
    extra = next(itertools.islice(starts, limit, None), None)
    if extra is None:
        return body
    ends = collections.deque(_ENTRY_END.finditer(body, extra.start()), maxlen=1)
    if not ends:
        return body[: extra.start()]
    return body[: extra.start()] + body[ends[0].end():]


class _BufferedExpat(xml.sax.expatreader.ExpatParser):
    """expat with its text buffer on: without it, a Statuspage entry's escaped HTML reaches
    feedparser in one piece per entity reference ("&lt;p&gt;" is three pieces), and each piece
    costs feedparser several dictionary lookups. SAX lets a parser split text anywhere, so
    feedparser builds the same entries from fewer, longer pieces."""

    def reset(self) -> None:
        super().reset()
        # reset() has just made the pyexpat parser; the stubs do not declare it.
        typing.cast(Any, self)._parser.buffer_text = True


_parsing = threading.local()  # .buffered: set while parse_feed runs feedparser in this thread


def _create_reader() -> xml.sax.xmlreader.XMLReader:
    """The SAX driver's create_parser: xml.sax.make_parser imports a driver module by name and
    calls it.

    Only parse_feed's own calls get the buffered reader. For any other feedparser call in the
    process this refuses, and make_parser goes on to feedparser's usual choice of driver.
    """
    if not getattr(_parsing, "buffered", False):
        raise xml.sax.SAXReaderNotAvailable("only for status_tracker.parse_feed", None)
    return _BufferedExpat()


# The driver is a module of its own in sys.modules, not this module by its __name__: under a
# profiler (python -m cProfile) or runpy, "__main__" is another module, without the hook,
# and every feedparser call in the process would fail on it.
SAX_DRIVER = "_status_tracker_sax_driver"


_driver = types.ModuleType(SAX_DRIVER, "status_tracker's SAX driver for feedparser")
vars(_driver)["create_parser"] = _create_reader
sys.modules[SAX_DRIVER] = _driver


if SAX_DRIVER not in feedparser.api.PREFERRED_XML_PARSERS:
    feedparser.api.PREFERRED_XML_PARSERS.insert(0, SAX_DRIVER)


def parse_feed(body: bytes) -> list[Incident]:
    """Turn a feed document into incidents; raise FeedError when the bytes are not a feed."""
    body = as_utf8(body)
    if not body.strip():
        raise FeedError("empty response")
    # BytesIO: a str or bytes argument may be taken for a file name or a URL by feedparser.
    # Its HTML sanitiser is most of its cost and buys nothing here: every field is reduced to
    # plain text by html_to_text, which drops all markup and scripts.
    document = cut_entries(_strip_doctype(body), MAX_ENTRIES)
    _parsing.buffered = True
    try:
        parsed = feedparser.parse(io.BytesIO(document), sanitize_html=False,
                                  resolve_relative_uris=False)
    finally:
        _parsing.buffered = False
    if not parsed.get("version") and not parsed.entries:
        head = body[:512].lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
            raise FeedError("not a feed: got an HTML page", html=True)
        reason = parsed.get("bozo_exception")
        raise FeedError(f"not a feed: {clean_text(_xml_error_words(reason))[:120]}"
                        if reason else "not a feed")
    if parsed.get("bozo") and not _COMPLETE_DOCUMENT.search(body[-512:]):
        # A cut-off body still yields the entries before the cut, the last one truncated: its
        # shortened text would be reported as an update. Wait for a whole document instead.
        raise FeedError("malformed feed: the document is cut off before its end")
    return _fold_updates([_parse_entry(e) for e in parsed.entries[:MAX_ENTRIES]])


def _xml_error_words(reason: object) -> str:
    """"the body is not XML (syntax error)", not expat's "<unknown>:2:0: syntax error", whose
    position counts lines feedparser added to the document."""
    message = getattr(reason, "getMessage", None)
    return f"the body is not XML ({message()})" if callable(message) else str(reason)


_FEED_LEVEL_DATE = re.compile(
    rb"<(updated|lastBuildDate|pubDate|dc:date)>[^<]*</\1>", re.I)


def looks_like_json(body: bytes) -> bool:
    """A body that is a JSON object or array, not a feed (UTF-8 by now)."""
    head = body[:64].lstrip(b" \t\r\n\xef\xbb\xbf")
    return head[:1] in (b"{", b"[")


def body_fingerprint(body: bytes) -> str:
    """A hash of the body that ignores the feed-level timestamp re-stamped on every request."""
    # Runs on every quiet poll of a feed without validators, so it touches the body as few
    # times as possible: one search that stops at the first entry or item, one hash. A JSON
    # document has no feed-level date to leave out: it is hashed as it is.
    if looks_like_json(body):
        cut = 0
    else:
        found = _ENTRY_START.search(body)
        cut = found.start() if found else len(body)
    # SHA-256 rather than blake2b: it runs on the CPU's SHA extensions where they exist. The
    # entries are hashed through a memoryview: slicing them off would copy most of the body.
    digest = hashlib.sha256(_FEED_LEVEL_DATE.sub(b"", body[:cut]))
    digest.update(memoryview(body)[cut:])
    return digest.hexdigest()[:32]


# #### Pure core: deciding what changed ############################################################


def _visible_digest(inc: Incident) -> str:
    return _digest(inc.title, inc.status, inc.message, *inc.components)


def _sort_key(inc: Incident) -> datetime:
    return inc.updated or inc.published or _NO_TIME


def _latest_step(inc: Incident) -> Step:
    """The newest step of the incident's timeline, or the one a feed without timelines shows."""
    return inc.steps[-1] if inc.steps else Step(inc.status, inc.message, inc.updated, "")


def _reported(inc: Incident, steps: Sequence[Step] = ()) -> Incident:
    """The incident as an event shows it: at its newest step (whose own time it takes: the
    entry's <updated> moves on any later edit), carrying `steps`, the steps this event
    reports, oldest first (the newest alone when none are given)."""
    latest = _latest_step(inc)
    return dataclasses.replace(inc, status=latest.status, message=latest.message,
                               updated=latest.at or inc.updated, steps=tuple(steps) or (latest,))


def _missed_steps(known_steps: Sequence[str], steps: Sequence[Step]) -> list[Step]:
    """Steps after the newest one already reported (an edited older step is not news)."""
    known = set(known_steps)
    last_known = max((i for i, s in enumerate(steps) if s.key in known), default=-1)
    return list(steps[last_known + 1:])


def _older(inc: Incident, seen: Seen, digest: str) -> bool:
    """Whether this copy of a known incident, with no step that is new, is older than what was
    already reported of it: a CDN edge still serving an earlier copy of the feed. It is older
    when its time is earlier, when its newest step was reported and later steps after it, or
    (a feed without timelines) when it is exactly an earlier version."""
    if inc.updated is not None and seen.updated is not None and inc.updated < seen.updated:
        return True
    if inc.steps:
        last = inc.steps[-1].key
        return seen.steps[-1:] != (last,) and last in seen.steps
    return digest != seen.digest and digest in seen.steps


def _remembered_steps(seen: Seen | None, inc: Incident, digest: str) -> tuple[str, ...]:
    """What is kept in Seen.steps: for a timeline, the keys of every step reported, those of
    this copy last (so the newest step is last); without one, the digests of earlier versions."""
    before = seen.steps if seen is not None else ()
    if inc.steps:
        keys = tuple(s.key for s in inc.steps)
        shown = set(keys)
        return tuple(k for k in before if k not in shown) + keys
    if seen is None or seen.digest == digest:
        return before
    return tuple(v for v in (*before, seen.digest) if v != digest)[-VERSIONS_KEPT:]


class Decision(typing.NamedTuple):
    """What one read of a feed comes to."""

    events: list[tuple[Kind, Incident]]  # oldest first, by the time of the step reported
    known: dict[str, Seen]  # what to remember afterwards
    stale: frozenset[str]  # incidents whose entry in this copy is older than what was reported


def decide(
    known: Mapping[str, Seen],
    incidents: Iterable[Incident],
    *,
    first_sight: bool,
    now: datetime,
    history: int = 0,
) -> Decision:
    """Say what to report for one read of a feed, and what to remember afterwards.

    Every step of an incident found in one read is one event: its newest status and message,
    the steps reported with it carried along. What was reported of an incident only moves
    forward: a copy of the feed older than that says nothing and changes nothing remembered.
    """
    current = list(incidents)
    remembered = dict(known)
    events: list[tuple[Kind, Incident]] = []
    stale: set[str] = set()
    recent = ({inc.id for inc in sorted(current, key=_sort_key)[-history:]}
              if first_sight and history > 0 else set())
    for inc in current:
        seen = remembered.get(inc.id)
        digest = _visible_digest(inc)
        if seen is None:
            kind = _first_kind(inc, first_sight=first_sight, recent=inc.id in recent)
            if kind is not None:
                events.append((kind, _reported(inc, inc.steps if kind is Kind.NEW else ())))
            remembered[inc.id] = Seen(inc.updated, digest, _remembered_steps(None, inc, digest),
                                      now)
            continue
        event, remembered[inc.id], older = _again(inc, seen, digest, now)
        if older:
            stale.add(inc.id)
        elif event is not None:
            events.append(event)
    events.sort(key=lambda event: _sort_key(event[1]))
    return Decision(events, prune(remembered, now), frozenset(stale))


def _first_kind(inc: Incident, *, first_sight: bool, recent: bool) -> Kind | None:
    """What an incident never seen before is reported as: new; or, on a feed's first read
    (a baseline), open when watching started, or one of the latest asked for with --history."""
    if not first_sight:
        log.debug("new incident %s", inc.id)
        return Kind.NEW
    if inc.active:
        return Kind.ACTIVE
    return Kind.HISTORY if recent else None


def _again(inc: Incident, seen: Seen, digest: str, now: datetime
           ) -> tuple[tuple[Kind, Incident] | None, Seen, bool]:
    """A known incident read again: its update (None: nothing new), what to remember of it,
    and whether this copy is older than what was reported."""
    fresh = _missed_steps(seen.steps, inc.steps)
    if not fresh and _older(inc, seen, digest):
        log.debug("incident %s: this copy is older than what was reported; not news", inc.id)
        return None, seen.seen_at(now), True
    # A timeline whose steps are all known: a moved <updated> is an edit (Statuspage
    # re-stamps entries days later), news only if the visible text changed.
    moved = not inc.steps and inc.updated is not None and (
        seen.updated is None or inc.updated > seen.updated)
    event = None
    if moved or fresh or digest != seen.digest:
        log.debug("updated incident %s (time moved: %s, %d new steps)", inc.id, moved,
                  len(fresh))
        event = (Kind.UPDATED, _reported(inc, fresh))
    newest = max((t for t in (seen.updated, inc.updated) if t), default=None)
    return event, Seen(newest, digest, _remembered_steps(seen, inc, digest), now), False


def prune(known: dict[str, Seen], now: datetime) -> dict[str, Seen]:
    """Forget incidents that left the feed long ago; keep at most MAX_KNOWN that left it.

    Incidents seen in this read (last_seen == now) are always kept: forgetting one would
    report it as new on the next read.
    """
    departed = [(k, s) for k, s in known.items() if s.last_seen != now]
    recent = [(k, s) for k, s in departed if now - s.last_seen <= FORGET_AFTER]
    recent.sort(key=lambda kv: kv[1].last_seen)
    forget = {k for k, _ in departed} - {k for k, _ in recent[-MAX_KNOWN:]}
    return {k: s for k, s in known.items() if k not in forget}


# #### Pure core: the Statuspage JSON API (components, impact, maintenance) ########################


_COMPONENT_STATUS = {
    "operational": "Operational", "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage", "major_outage": "Major outage",
    "under_maintenance": "Under maintenance"}


class ApiShapeError(ValueError):
    """A JSON body that is not what the Statuspage API sends; the message says what."""


@dataclass(frozen=True, slots=True)
class ApiUpdate:
    status: str  # the API's word: investigating, identified, monitoring, update, resolved…
    body: str
    at: datetime | None
    components: tuple[str, ...]  # "Name (Status)", as the console shows them


@dataclass(frozen=True, slots=True)
class ApiIncident:
    """One incident or maintenance as /api/v2/incidents.json (or its siblings) describes it."""

    code: str
    title: str
    status: str
    impact: str | None
    link: str
    updates: tuple[ApiUpdate, ...]  # oldest first
    components: tuple[str, ...]  # the incident's components with their current status
    scheduled_for: datetime | None = None
    scheduled_until: datetime | None = None


def _api_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # "0001-01-01T00:00:00+01:00" overflows in UTC
        return None


def _api_id(value: object) -> str | None:
    """An id from the API as printable text (it becomes an event id), or None."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        return clean_text(str(value))[:64] or None
    return None


def _api_text(value: object, limit: int) -> str:
    return _clip(clean_text(value), limit) if isinstance(value, str) else ""


def status_word(status: object) -> str:
    """"major_outage" as people say it: "Major outage"; "" for no status."""
    if not isinstance(status, str):
        return ""
    return _COMPONENT_STATUS.get(status) or _api_text(status.replace("_", " "), 40).capitalize()


def component_label(name: str, status: object) -> str:
    word = status_word(status)
    return f"{name} ({word})" if word else name


_COMPONENT_LABEL = re.compile(r"(.+) \(([^()]+)\)")


# The status words a label ends with, on Statuspage and incident.io.
_STATUS_WORDS = frozenset(w.lower() for w in (*_COMPONENT_STATUS.values(), "Full outage"))


def label_state(label: str) -> tuple[str, str] | None:
    """("Conversations", "degraded_performance") from "Conversations (Degraded performance)":
    a component's name and its status as the API spells it; None without a status."""
    match = _COMPONENT_LABEL.fullmatch(label)
    if match is None or match[2].strip().lower() not in _STATUS_WORDS:
        return None
    return match[1], match[2].strip().lower().replace(" ", "_")


def label_name(label: str) -> str:
    """The component's own name in "Name (Status)", as filters compare it (case aside).
    Only a trailing status word is dropped: "Claude API (api.anthropic.com)" keeps its own."""
    match = _COMPONENT_LABEL.fullmatch(label)
    if match and match[2].strip().lower() in _STATUS_WORDS:
        label = match[1]
    return label.strip().lower()


def component_matches(wanted: str, label: str) -> bool:
    """A filter name against an event's component: the same name, or that name inside a
    group ("Cloudflare Sites and Services - Gateway"), or with a qualifier in parentheses
    ("Claude API (api.anthropic.com)" for "Claude API")."""
    want, name = wanted.strip().lower(), label_name(label)
    return name == want or name.endswith(" - " + want) or name.startswith(want + " (")


def _components(raw: object) -> list[Mapping[str, Any]]:
    # Real bodies have "affected_components": null, and other fields of the wrong type.
    return [c for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []


def _read_api_item(item: Mapping[str, Any]) -> ApiIncident | None:
    code = _api_id(item.get("id"))
    if code is None:
        return None
    names: dict[str, str] = {}
    current = []
    for comp in _components(item.get("components")):
        name = _api_text(comp.get("name"), MAX_TITLE)
        if name:
            if (key := _api_id(comp.get("id"))) is not None:
                names[key] = name
            current.append(component_label(name, comp.get("status")))
    updates = []
    for raw in _components(item.get("incident_updates")):
        affected = []
        for comp in _components(raw.get("affected_components")):
            # Update entries name a grouped component with its group ("Cloudflare Sites and
            # Services - Gateway"); the incident's list has the name alone: use that one.
            key = _api_id(comp.get("code"))
            name = (names.get(key) if key else None) or _api_text(comp.get("name"), MAX_TITLE)
            if name:
                affected.append(component_label(name, comp.get("new_status")))
        updates.append(ApiUpdate(
            _api_text(raw.get("status"), 40).lower(), _api_text(raw.get("body"), MAX_MESSAGE),
            _api_time(raw.get("display_at")) or _api_time(raw.get("created_at")),
            tuple(affected[:MAX_COMPONENTS])))
    updates.sort(key=lambda u: u.at or _NO_TIME)
    impact = item.get("impact")
    return ApiIncident(
        code=code, title=_api_text(item.get("name"), MAX_TITLE),
        status=_api_text(item.get("status"), 40).lower(),
        impact=Impact.read(impact),
        link=_api_text(item.get("shortlink"), 300), updates=tuple(updates),
        components=tuple(current[:MAX_COMPONENTS]),
        scheduled_for=_api_time(item.get("scheduled_for")),
        scheduled_until=_api_time(item.get("scheduled_until")))


def read_api_list(body: bytes, key: str) -> dict[str, ApiIncident]:
    """The incidents (key "incidents") or maintenances ("scheduled_maintenances") of a
    Statuspage API body, by code; ApiShapeError when the body is not that shape at all."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiShapeError(f"not JSON: {clean_text(str(exc))[:80]}") from None
    return api_list(data, key)


def api_list(data: object, key: str) -> dict[str, ApiIncident]:
    """As read_api_list, from the JSON already decoded."""
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise ApiShapeError(f"no {key!r} list in the body")
    found = {}
    for item in data[key]:
        try:
            read = _read_api_item(item) if isinstance(item, dict) else None
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
            read = None  # one odd item in a changed shape; the others still count
        if read is not None:
            found[read.code] = read
    return found


def _update_for(inc: Incident, api: ApiIncident) -> ApiUpdate | None:
    """The API update behind the step being reported: same minute (the feed shows minutes),
    then the same text; else the newest."""
    def same_text(update: ApiUpdate) -> bool:
        return bool(inc.message) and update.body[:80] == inc.message[:80]

    if inc.updated is not None:
        near = [u for u in api.updates
                if u.at is not None and abs((u.at - inc.updated).total_seconds()) < 60]
        if near:
            return next((u for u in near if same_text(u)), near[-1])
    return next((u for u in reversed(api.updates) if same_text(u)),
                api.updates[-1] if api.updates else None)


def enrich(inc: Incident, api: ApiIncident | None) -> Incident:
    """The incident with the components and impact that only the JSON API knows."""
    if api is None:
        return inc
    update = _update_for(inc, api)
    components = (update.components if update and update.components else api.components)
    return dataclasses.replace(inc, components=components or inc.components, impact=api.impact)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which incidents a feed reports: unknown components or impact always pass, so nothing
    is dropped for want of information."""

    components: tuple[str, ...] = ()
    min_impact: str | None = None

    def passes(self, inc: Incident) -> bool:
        if self.components and inc.components and not any(
                component_matches(w, c) for w in self.components for c in inc.components):
            return False
        if self.min_impact and (impact := Impact.read(inc.impact)) in _IMPACT_RANK:
            return impact.rank >= Impact(self.min_impact).rank
        return True


def maintenance_events(
    known: Mapping[str, tuple[Phase, datetime]] | None,
    windows: Mapping[str, ApiIncident],
    *,
    now: datetime,
) -> tuple[list[tuple[Kind, Incident]], dict[str, tuple[Phase, datetime]]]:
    """Each phase of each maintenance window once: scheduled, started, completed (a phase
    skipped between two reads is still reported). `known` None is the first read: windows
    already over are only remembered."""
    remembered = dict(known or {})
    events: list[tuple[Kind, Incident]] = []
    for code, window in sorted(windows.items(), key=lambda kv: kv[1].scheduled_for or _NO_TIME):
        phase = Phase.of(window.status)
        if phase is None:
            continue
        said = remembered.get(code)
        if said is not None and said[0] >= phase:
            # Nothing new, or the list went backwards (a stale copy): keep what was said.
            remembered[code] = (said[0], now)
            continue
        first = Phase(said[0] + 1) if said is not None else Phase.SCHEDULED
        if known is None:
            # The first read: a window under way is said as started, not also as scheduled,
            # and one already over is only remembered.
            first = phase
        if known is not None or phase is not Phase.COMPLETED:
            events += [(step.kind, _window_at(window, step)) for step in Phase
                       if first <= step <= phase]
        remembered[code] = (phase, now)
    stale = [c for c, (_, seen) in remembered.items()
             if c not in windows and now - seen > FORGET_AFTER]
    for code in stale:
        del remembered[code]
    return events, remembered


def _window_at(window: ApiIncident, phase: Phase) -> Incident:
    update = next((u for u in reversed(window.updates) if Phase.of(u.status) is phase),
                  window.updates[-1] if window.updates else None)
    return Incident(
        id=window.code, title=window.title, link=window.link, status=phase.status,
        components=(update.components if update and update.components else window.components),
        message=update.body if update else "", published=window.scheduled_for,
        updated=update.at if update else window.scheduled_for, code=window.code,
        maintenance=True, impact=Impact.MAINTENANCE, scheduled_for=window.scheduled_for,
        scheduled_until=window.scheduled_until)


def api_base(feed_url: str) -> str | None:
    """Where a Statuspage page's API lives: the feed's origin and path before /history.*."""
    parts = urllib.parse.urlsplit(feed_url)
    match = re.fullmatch(r"(.*)/history\.(?:atom|rss)", parts.path)
    if not match:
        return None
    return f"{parts.scheme}://{parts.netloc}{match[1]}"


def read_api_summary(body: bytes) -> tuple[list[tuple[str, str]], dict[str, ApiIncident],
                                          dict[str, ApiIncident], list[str]]:
    """summary.json: components not operational (groups left out: their members say it),
    open incidents and maintenances by code, and every component's name."""
    incidents = read_api_list(body, "incidents")
    try:
        maintenances = read_api_list(body, "scheduled_maintenances")
    except ApiShapeError:
        maintenances = {}  # incident.io's compatible summary has no maintenance list
    data = json.loads(body)
    components, names = [], []
    for comp in _components(data.get("components")):
        name, status = _api_text(comp.get("name"), MAX_TITLE), str(comp.get("status", ""))
        names += [name] if name else []
        if name and status != "operational" and comp.get("group") is not True:
            components.append((name, status_word(status)))
    return components, incidents, maintenances, names


# #### Pure core: other platforms' JSON documents ##################################################


@dataclass(frozen=True, slots=True)
class Component:
    """A page's component and its state, in Statuspage's words (operational,
    degraded_performance, partial_outage, major_outage, under_maintenance; "" unknown)."""

    name: str
    status: str
    group: str | None = None


@dataclass(frozen=True, slots=True)
class PageDoc:
    """What one read of a page says: its incidents (each with its steps), and where the
    document lists them, its components and its maintenance windows."""

    platform: str
    incidents: list[Incident]
    components: list[Component] | None = None
    windows: dict[str, ApiIncident] | None = None


_JS_DATE = re.compile(
    r"\w{3} (\w{3}) (\d{1,2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT([+-])(\d\d)(\d\d)")


def _doc_time(value: object) -> datetime | None:
    """A moment as platforms write it: ISO 8601 (with or without a zone: UTC), epoch seconds
    (a number or its digits), or JavaScript's Date.toString() (Instatus)."""
    if isinstance(value, str) and (match := _JS_DATE.match(value)):
        month = _MONTHS.get(match[1].capitalize())
        if month is None:
            return None
        offset = timedelta(hours=int(match[8]), minutes=int(match[9]))
        at = datetime(int(match[3]), month, int(match[2]), int(match[4]), int(match[5]),
                      int(match[6]), tzinfo=UTC)
        return at - offset if match[7] == "+" else at + offset
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return _from_epoch(value)
        except ValueError:
            return None
    return _api_time(value)


def _doc_text(value: object, limit: int = MAX_MESSAGE) -> str:
    """Plain text of a platform's field, on one line as every message is; Markdown's hard
    breaks (a backslash before a line break, as Google Cloud and Salesforce write them) are
    breaks, not backslashes."""
    if not isinstance(value, str):
        return ""
    return _clip(html_to_text(value.replace("\\\n", "\n").replace("\\n", "\n")),
                 limit)


def _doc_items(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _doc_incident(ident: str, title: str, link: str, steps: Sequence[Step], *,
                  status: str = "", components: Sequence[str] = (),
                  published: datetime | None = None, impact: str | None = None) -> Incident:
    """An incident of a JSON document: its message is its newest step's, and its status is
    what the document says the incident is at (AWS: resolved, while its last post's own
    status is still "degraded"), else its newest step's. That status is shown on the newest
    step, whose key stays: a change of status alone is an update of that step, reported once,
    not a step of its own."""
    ordered = tuple(sorted(steps, key=lambda s: s.at or _NO_TIME))[-MAX_STEPS:]
    if status and ordered and ordered[-1].status != status:
        ordered = (*ordered[:-1], dataclasses.replace(ordered[-1], status=_clip(status, 60)))
    last = ordered[-1] if ordered else None
    return Incident(
        id=ident, title=_clip(title, MAX_TITLE), link=link,
        status=_clip(status or (last.status if last else ""), 60),
        components=tuple(dict.fromkeys(components))[:MAX_COMPONENTS],
        message=last.message if last else "",
        published=published or (ordered[0].at if ordered else None),
        updated=last.at if last else published, steps=ordered, impact=impact)


def _step(ident: str, status: str, message: str, at: datetime | None) -> Step:
    """A step keyed by its incident, time and words: the same step read again is the same."""
    return Step(_clip(status, 60), message, at, _digest(ident, _iso(at) or "", status, message))


def _window(code: str, title: str, status: str, link: str, starts: datetime | None,
            ends: datetime | None, message: str = "", components: Sequence[str] = ()
            ) -> ApiIncident:
    """A maintenance window in the Statuspage API's form, so its phases are said as theirs."""
    update = ApiUpdate(status, message, starts, tuple(components)) if message else None
    return ApiIncident(code=code, title=_clip(title, MAX_TITLE), status=status,
                       impact=Impact.MAINTENANCE, link=link,
                       updates=(update,) if update else (),
                       components=tuple(components)[:MAX_COMPONENTS],
                       scheduled_for=starts, scheduled_until=ends)


def _phase_by_time(starts: datetime | None, ends: datetime | None, now: datetime) -> str:
    """A window's phase from its times, where the document does not say it."""
    if ends is not None and ends <= now:
        return "completed"
    if starts is not None and starts <= now:
        return "in_progress"
    return "scheduled"


def _origin(url: str) -> str:
    """The site's root as a link people see: without the user and password a feed's address
    may carry (they would be shown on the page, in the feed and in chat)."""
    parts = urllib.parse.urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}/"


# --- Statuspage's JSON (and incident.io's compatible copy), read as a page of its own ---


def _knows_statuspage_json(data: object) -> bool:
    return isinstance(data, dict) and isinstance(data.get("page"), dict) and (
        isinstance(data.get("incidents"), list) or isinstance(data.get("components"), list))


def read_statuspage_json(data: Any, source: str, now: datetime) -> PageDoc:
    """summary.json or incidents.json: incidents with every update as a step, components,
    maintenance windows."""
    incidents = []
    if isinstance(data.get("incidents"), list):
        for code, api in api_list(data, "incidents").items():
            steps = [_step(code, u.status.capitalize(), u.body, u.at) for u in api.updates]
            incidents.append(_doc_incident(
                code, api.title, api.link, steps, status=api.status.capitalize(),
                components=api.components, impact=api.impact))
    windows = (api_list(data, "scheduled_maintenances")
               if isinstance(data.get("scheduled_maintenances"), list) else None)
    components = None
    if isinstance(data.get("components"), list):
        groups = {str(c.get("id")): _api_text(c.get("name"), MAX_TITLE)
                  for c in _doc_items(data["components"]) if c.get("group") is True}
        components = [Component(_api_text(c.get("name"), MAX_TITLE), str(c.get("status", "")),
                                groups.get(str(c.get("group_id"))))
                      for c in _doc_items(data["components"])
                      if c.get("group") is not True and _api_text(c.get("name"), MAX_TITLE)]
    return PageDoc("statuspage", incidents, components, windows)


# --- Instatus: summary.json (incidents and maintenance now) and v2/components.json ---


_INSTATUS_STATES = {"OPERATIONAL": "operational", "UNDERMAINTENANCE": "under_maintenance",
                    "DEGRADEDPERFORMANCE": "degraded_performance",
                    "PARTIALOUTAGE": "partial_outage", "MINOROUTAGE": "partial_outage",
                    "MAJOROUTAGE": "major_outage"}
_INSTATUS_PHASES = {"NOTSTARTEDYET": "scheduled", "INPROGRESS": "in_progress",
                    "COMPLETED": "completed"}


def _knows_instatus(data: object) -> bool:
    if not isinstance(data, dict):
        return False
    page = data.get("page")
    return (isinstance(page, dict) and not isinstance(data.get("incidents"), list)
            and ("activeIncidents" in data or "activeMaintenances" in data
                 or page.get("status") in ("UP", "HASISSUES", "UNDERMAINTENANCE"))) or (
        isinstance(data.get("components"), list) and "page" not in data
        and all(c.get("status") in _INSTATUS_STATES for c in _doc_items(data["components"])))


def _instatus_impact(value: object) -> str | None:
    word = str(value or "").upper()
    if "MAJOR" in word or "PARTIAL" in word:
        return Impact.MAJOR
    return Impact.MINOR if word in _INSTATUS_STATES and word != "OPERATIONAL" else None


def read_instatus(data: Any, source: str, now: datetime) -> PageDoc:
    """Instatus lists the incidents open now, each with its status but no message: each
    status it takes is a step."""
    incidents = []
    for item in _doc_items(data.get("activeIncidents")):
        ident = _api_id(item.get("id")) or _api_text(item.get("url"), 300)
        if not ident:
            continue
        status = _api_text(item.get("status"), 40).capitalize()
        at = _doc_time(item.get("updatedAt")) or _doc_time(item.get("started"))
        incidents.append(_doc_incident(
            ident, _api_text(item.get("name"), MAX_TITLE), _api_text(item.get("url"), 300),
            [_step(ident, status, "", at)], published=_doc_time(item.get("started")),
            impact=_instatus_impact(item.get("impact"))))
    windows = None
    if "activeMaintenances" in data:
        windows = {}
        for item in _doc_items(data.get("activeMaintenances")):
            code = _api_id(item.get("id")) or _api_text(item.get("url"), 300)
            starts = _doc_time(item.get("start"))
            minutes = _doc_number(item.get("duration"))
            phase = _INSTATUS_PHASES.get(str(item.get("status", "")).upper())
            if code and phase:
                ends = starts + timedelta(minutes=minutes) if starts and minutes else None
                windows[code] = _window(code, _api_text(item.get("name"), MAX_TITLE), phase,
                                        _api_text(item.get("url"), 300), starts, ends)
    components = None
    if isinstance(data.get("components"), list):
        components = []
        for item in _doc_items(data["components"]):
            group = item.get("group")
            components.append(Component(
                _api_text(item.get("name"), MAX_TITLE),
                _INSTATUS_STATES.get(str(item.get("status", "")).upper(), ""),
                _api_text(group.get("name"), MAX_TITLE) if isinstance(group, dict) else None))
    return PageDoc("instatus", incidents, components, windows)


def _doc_number(value: object) -> float | None:
    if isinstance(value, str) and _ASCII_NUMBER.fullmatch(value.strip()):
        return float(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


_ASCII_NUMBER = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,6})?")


# --- Better Stack: index.json (JSON:API) ---


_BETTER_STACK_STATES = {"operational": "operational", "degraded": "degraded_performance",
                        "downtime": "major_outage", "maintenance": "under_maintenance"}


def _knows_better_stack(data: object) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("data"), dict)
            and data["data"].get("type") == "status_page")


def read_better_stack(data: Any, source: str, now: datetime) -> PageDoc:
    """Resources are components (sections their groups); status reports are incidents, or
    maintenance windows; status updates are their steps."""
    included = _doc_items(data.get("included"))
    by_type: dict[str, dict[str, Mapping[str, Any]]] = {}
    for item in included:
        if (kind := item.get("type")) and (ident := _api_id(item.get("id"))):
            by_type.setdefault(str(kind), {})[ident] = item
    attrs = data["data"].get("attributes") or {}
    host = _api_text(attrs.get("custom_domain"), 200)
    link = f"https://{host}/" if host and "/" not in host else _origin(source)
    sections = {k: _api_text((v.get("attributes") or {}).get("name"), MAX_TITLE)
                for k, v in by_type.get("status_page_section", {}).items()}
    components, names = [], {}
    for ident, item in by_type.get("status_page_resource", {}).items():
        attr = item.get("attributes") or {}
        name = _api_text(attr.get("public_name"), MAX_TITLE)
        if name:
            names[ident] = name
            components.append(Component(
                name, _BETTER_STACK_STATES.get(str(attr.get("status")), ""),
                sections.get(str(attr.get("status_page_section_id")))))
    incidents, windows = [], {}
    updates = by_type.get("status_update", {})
    for ident, item in by_type.get("status_report", {}).items():
        attr = item.get("attributes") or {}
        affected = [component_label(names[r], _BETTER_STACK_STATES.get(str(a.get("status"))))
                    for a in _doc_items(attr.get("affected_resources"))
                    if (r := _api_id(a.get("status_page_resource_id"))) in names]
        related = ((item.get("relationships") or {}).get("status_updates") or {}).get("data")
        texts = [(updates[u].get("attributes") or {}) for ref in _doc_items(related)
                 if (u := _api_id(ref.get("id"))) in updates]
        starts, ends = _doc_time(attr.get("starts_at")), _doc_time(attr.get("ends_at"))
        title = _api_text(attr.get("title"), MAX_TITLE)
        if attr.get("report_type") == "maintenance":
            message = _doc_text(texts[-1].get("message")) if texts else ""
            windows[ident] = _window(ident, title, _phase_by_time(starts, ends, now), link,
                                     starts, ends, message, affected)
            continue
        resolved = ends is not None or attr.get("aggregate_state") == "resolved"
        steps = [_step(ident, "Update", _doc_text(t.get("message")),
                       _doc_time(t.get("published_at"))) for t in texts]
        worst = {a.get("status") for a in _doc_items(attr.get("affected_resources"))}
        incidents.append(_doc_incident(
            ident, title, link, steps, status="Resolved" if resolved else "Ongoing",
            components=affected, published=starts,
            impact=Impact.MAJOR if "downtime" in worst else Impact.MINOR if worst else None))
    return PageDoc("betterstack", incidents, components, windows)


# --- Status.io: the public status API ---


_STATUS_IO_STATES = {100: "operational", 200: "under_maintenance", 300: "degraded_performance",
                     400: "partial_outage", 500: "major_outage", 600: "major_outage"}
_STATUS_IO_STEPS = {100: "Investigating", 200: "Identified", 300: "Monitoring",
                    400: "Resolved"}


def _knows_status_io(data: object) -> bool:
    return isinstance(data, dict) and isinstance(data.get("result"), dict) and (
        "status_overall" in data["result"] or isinstance(data["result"].get("status"), list))


def _status_code(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _status_io_item(item: Mapping[str, Any]) -> tuple[str, list[Step], list[str], int]:
    """An incident's or window's id, steps, affected components and worst status code."""
    ident = _api_id(item.get("_id")) or _api_id(item.get("id")) or ""
    steps, worst = [], 0
    for message in _doc_items(item.get("messages")):
        worst = max(worst, _status_code(message.get("status")))
        state = _STATUS_IO_STEPS.get(_status_code(message.get("state")), "Update")
        steps.append(_step(ident, state, _doc_text(message.get("details")),
                           _doc_time(message.get("datetime"))))
    affected = [_api_text(c.get("name"), MAX_TITLE)
                for c in _doc_items(item.get("components_affected"))]
    return ident, steps, [a for a in affected if a], worst


def read_status_io(data: Any, source: str, now: datetime) -> PageDoc:
    """Components (each container a member of its component), incidents open now with their
    messages as steps, and maintenance under way or upcoming."""
    result = data["result"]
    link = _origin(source)
    components = []
    for comp in _doc_items(result.get("status")):
        name = _api_text(comp.get("name"), MAX_TITLE)
        containers = _doc_items(comp.get("containers"))
        for container in containers or [comp]:
            label = (f"{name} ({_api_text(container.get('name'), MAX_TITLE)})"
                     if containers else name)
            components.append(Component(
                label, _STATUS_IO_STATES.get(_status_code(container.get("status_code")), ""),
                name if containers else None))
    incidents = []
    for item in _doc_items(result.get("incidents")):
        ident, steps, affected, worst = _status_io_item(item)
        if ident:
            state = _STATUS_IO_STATES.get(worst, "")
            incidents.append(_doc_incident(
                ident, _api_text(item.get("name"), MAX_TITLE), link, steps,
                components=affected, published=_doc_time(item.get("datetime_open")),
                impact=Impact.CRITICAL if state == "major_outage" else Impact.MAJOR
                if state == "partial_outage" else Impact.MINOR if state else None))
    windows = {}
    maintenance = result.get("maintenance") or {}
    for phase, key in (("in_progress", "active"), ("scheduled", "upcoming")):
        for item in _doc_items(maintenance.get(key) if isinstance(maintenance, dict) else []):
            ident, steps, affected, _ = _status_io_item(item)
            if ident:
                windows[ident] = _window(
                    ident, _api_text(item.get("name"), MAX_TITLE), phase, link,
                    _doc_time(item.get("datetime_planned_start")),
                    _doc_time(item.get("datetime_planned_end")),
                    steps[-1].message if steps else "", affected)
    return PageDoc("statusio", incidents, components, windows)


# --- Google Cloud: incidents.json ---


_GCP_SEVERITY = {"low": Impact.MINOR, "medium": Impact.MAJOR, "high": Impact.CRITICAL}
_GCP_STATUS = {"SERVICE_INFORMATION": "Service information",
               "SERVICE_DISRUPTION": "Service disruption", "SERVICE_OUTAGE": "Service outage",
               "AVAILABLE": "Resolved"}


def _knows_google_cloud(data: object) -> bool:
    return isinstance(data, list) and any(
        "external_desc" in item or "affected_products" in item for item in _doc_items(data))


def _titles(value: object) -> list[str]:
    return [t for t in (_api_text(i.get("title"), MAX_TITLE) for i in _doc_items(value)) if t]


def read_google_cloud_json(data: Any, source: str, now: datetime) -> PageDoc:
    """Every incident of the history, with its updates as steps, its products as components
    and the locations each update names in its message."""
    incidents = []
    items = sorted(_doc_items(data), key=lambda i: str(i.get("modified", "")))[-MAX_ENTRIES:]
    for item in items:
        ident = _api_id(item.get("id"))
        if not ident:
            continue
        steps = []
        for update in _doc_items(item.get("updates")):
            places = _titles(update.get("affected_locations"))
            text = _doc_text(update.get("text"))
            if places:
                text = _clip(f"{text} Locations: {', '.join(places)}.", MAX_MESSAGE)
            steps.append(_step(ident, _GCP_STATUS.get(str(update.get("status")), "Update"),
                               text, _doc_time(update.get("when"))
                               or _doc_time(update.get("created"))))
        ended = _doc_time(item.get("end"))
        uri = _api_text(item.get("uri"), 300)
        incidents.append(_doc_incident(
            ident, _api_text(item.get("external_desc"), MAX_TITLE),
            urllib.parse.urljoin(_origin(source), uri) if uri else _origin(source), steps,
            status="Resolved" if ended else "",
            components=_titles(item.get("affected_products")),
            published=_doc_time(item.get("begin")),
            impact=_GCP_SEVERITY.get(str(item.get("severity")))))
    return PageDoc("google-cloud", incidents)


# --- AWS Health Dashboard: public/currentevents ---


_AWS_STATES = {"0": "operational", "1": "operational", "2": "degraded_performance",
               "3": "major_outage"}
_AWS_STEPS = {"0": "Resolved", "1": "Informational", "2": "Degraded", "3": "Disrupted"}
_AWS_IMPACT = {"1": Impact.MINOR, "2": Impact.MAJOR, "3": Impact.CRITICAL}
_AWS_LINK = "https://health.aws.amazon.com/health/status"


def _knows_aws_events(data: object) -> bool:
    return isinstance(data, list) and any("arn" in item and "event_log" in item
                                          for item in _doc_items(data))


def read_aws_events(data: Any, source: str, now: datetime) -> PageDoc:
    """Each event, its log as steps, each impacted service in its region as a component."""
    incidents = []
    for item in _doc_items(data):
        # arn:aws:health:REGION::event/SERVICE/TYPE/ID: the last part names the event.
        arn = item.get("arn")
        ident = _api_id(arn.rsplit("/", 1)[-1]) if isinstance(arn, str) else None
        if not ident:
            continue
        steps = [_step(ident, _AWS_STEPS.get(str(log_item.get("status")), "Update"),
                       _doc_text(log_item.get("message")), _doc_time(log_item.get("timestamp")))
                 for log_item in _doc_items(item.get("event_log"))]
        services = item.get("impacted_services")
        services = services if isinstance(services, dict) else {}
        affected = []
        for key, service in services.items():
            if isinstance(service, dict):
                region = _AWS_REGION.fullmatch(str(key))
                name = _api_text(service.get("service_name"), MAX_TITLE)
                label = f"{name} ({region['region']})" if region else name
                affected.append(component_label(label, _AWS_STATES.get(str(service.get(
                    "current")), "")))
        status = str(item.get("status", ""))
        incidents.append(_doc_incident(
            ident, _RESOLVED_MARK.sub("", _api_text(item.get("summary"), MAX_TITLE)),
            _AWS_LINK, steps, status=_AWS_STEPS.get(status, ""),
            components=affected, published=_doc_time(item.get("date")),
            impact=Impact.worst(_AWS_IMPACT.get(str(s.get("max"))) for s in services.values()
                                if isinstance(s, dict)) or _AWS_IMPACT.get(status)))
    return PageDoc("aws", incidents)


# --- Slack: api/v2.0.0/current ---


def _knows_slack(data: object) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("active_incidents"), list)
            and "status" in data)


def read_slack(data: Any, source: str, now: datetime) -> PageDoc:
    """Incidents and outages open now with their notes as steps; planned maintenance (told by
    its status words, not its type) as windows."""
    incidents, windows = [], {}
    for item in _doc_items(data.get("active_incidents")):
        ident = _api_id(item.get("id"))
        if not ident:
            continue
        status = _api_text(item.get("status"), 40).lower()
        services = [s for s in (_api_text(v, MAX_TITLE) for v in item.get("services") or []
                                if isinstance(v, str)) if s]
        notes = _doc_items(item.get("notes"))
        link = _api_text(item.get("url"), 300) or _origin(source)
        if status in ("cancelled", "canceled"):
            continue  # a maintenance called off: neither open nor due (the calendar says so)
        if status in ("scheduled", "completed"):
            created = _doc_time(item.get("date_created"))
            windows[ident] = _window(ident, _api_text(item.get("title"), MAX_TITLE), status,
                                     link, created, None,
                                     _doc_text(notes[-1].get("body")) if notes else "",
                                     services)
            continue
        steps = [_step(ident, status.capitalize() or "Update", _doc_text(n.get("body")),
                       _doc_time(n.get("date_created"))) for n in notes]
        kind = str(item.get("type", ""))
        incidents.append(_doc_incident(
            ident, _api_text(item.get("title"), MAX_TITLE), link, steps,
            status=status.capitalize(), components=services,
            published=_doc_time(item.get("date_created")),
            impact={"outage": Impact.MAJOR, "incident": Impact.MINOR,
                    "notice": Impact.NONE}.get(kind)))
    return PageDoc("slack", incidents, None, windows)


# --- Cachet 2.x: api/v1/incidents and api/v1/components ---


_CACHET_STEPS = {0: "Scheduled", 1: "Investigating", 2: "Identified", 3: "Watching",
                 4: "Fixed"}
_CACHET_STATES = {1: "operational", 2: "degraded_performance", 3: "partial_outage",
                  4: "major_outage"}


def _knows_cachet(data: object) -> bool:
    return isinstance(data, dict) and isinstance(data.get("data"), list) and any(
        ("human_status" in item and "name" in item) or "status_name" in item
        for item in _doc_items(data["data"]))


def read_cachet(data: Any, source: str, now: datetime) -> PageDoc:
    """Incidents with the message each status came with as a step (an update's own text
    lives at a URL of its own, not read); or the component list."""
    items = _doc_items(data["data"])
    if any("status_name" in item for item in items):
        return PageDoc("cachet", [], [Component(
            _api_text(i.get("name"), MAX_TITLE), _CACHET_STATES.get(_status_code(i.get(
                "status")), "")) for i in items if _api_text(i.get("name"), MAX_TITLE)])
    incidents = []
    for item in items:
        ident = _api_id(item.get("id"))
        if not ident or item.get("visible") in (0, False):
            continue
        status = (_api_text(item.get("human_status"), 40)
                  or _CACHET_STEPS.get(_status_code(item.get("status")), ""))
        at = _doc_time(item.get("updated_at")) or _doc_time(item.get("created_at"))
        incidents.append(_doc_incident(
            ident, _api_text(item.get("name"), MAX_TITLE),
            urllib.parse.urljoin(_origin(source), f"incidents/{ident}"),
            [_step(ident, status, _doc_text(item.get("message")), at)],
            published=_doc_time(item.get("created_at"))))
    return PageDoc("cachet", incidents)


# --- Sorry: api/v1/notices and api/v1/components ---


_SORRY_STATES = {"operational": "operational", "degraded": "degraded_performance",
                 "partially-degraded": "partial_outage", "under_maintenance": "under_maintenance"}
_SORRY_PHASES = {"scheduled": "scheduled", "underway": "in_progress", "complete": "completed"}


def _knows_sorry(data: object) -> bool:
    return isinstance(data, dict) and (
        isinstance(data.get("notices"), list) or (
            isinstance(data.get("components"), list) and isinstance(data.get("meta"), dict)
            and any("state" in c for c in _doc_items(data["components"]))))


def read_sorry(data: Any, source: str, now: datetime) -> PageDoc:
    """Unplanned notices are incidents (their state a step), planned ones maintenance
    windows; or the component list (a child names its parent as its group)."""
    if not isinstance(data.get("notices"), list):
        items = _doc_items(data.get("components"))
        names = {str(c.get("id")): _api_text(c.get("name"), MAX_TITLE) for c in items}
        return PageDoc("sorry", [], [Component(
            _api_text(c.get("name"), MAX_TITLE), _SORRY_STATES.get(str(c.get("state")), ""),
            names.get(str(c.get("parent_id")))) for c in items
            if _api_text(c.get("name"), MAX_TITLE)])
    incidents, windows = [], {}
    for item in _doc_items(data["notices"]):
        ident = _api_id(item.get("id"))
        if not ident:
            continue
        title = _api_text(item.get("subject") or item.get("title") or item.get("name")
                          or item.get("synopsis"), MAX_TITLE)
        link = _api_text(item.get("link") or item.get("url"), 300) or _origin(source)
        state = _api_text(item.get("state"), 40).lower()
        text = _doc_text(item.get("synopsis"))
        if item.get("type") == "planned":
            if phase := _SORRY_PHASES.get(state):
                windows[ident] = _window(ident, title, phase, link,
                                         _doc_time(item.get("begins_at")),
                                         _doc_time(item.get("ends_at")), text)
            continue
        at = (_doc_time(item.get("ended_at")) or _doc_time(item.get("updated_at"))
              or _doc_time(item.get("began_at")))
        shown = "Resolved" if state == "false_alarm" else state.replace("_", " ").capitalize()
        incidents.append(_doc_incident(ident, title, link, [_step(ident, shown, text, at)],
                                       published=_doc_time(item.get("began_at"))))
    return PageDoc("sorry", incidents, None, windows)


# --- Salesforce Trust: v1 incidents, or an instance's status ---


_SALESFORCE_IMPACT = {"minor": Impact.MINOR, "major": Impact.MAJOR}


def _knows_salesforce(data: object) -> bool:
    if isinstance(data, dict):
        return "Incidents" in data or "Maintenances" in data
    return isinstance(data, list) and any("IncidentEvents" in item or "IncidentImpacts" in item
                                          for item in _doc_items(data))


def read_salesforce(data: Any, source: str, now: datetime) -> PageDoc:
    """Incidents with their events as steps (a Trust incident has no title: its services
    and its first words name it), and planned maintenance as windows."""
    link = "https://status.salesforce.com/"
    items = _doc_items(data if isinstance(data, list) else data.get("Incidents"))
    incidents = []
    for item in items:
        ident = _api_id(item.get("id"))
        if not ident:
            continue
        impacts = _doc_items(item.get("IncidentImpacts"))
        over = bool(impacts) and all(i.get("endTime") for i in impacts)
        steps = [_step(ident, "Update", _doc_text(e.get("message")), _doc_time(e.get("createdAt")))
                 for e in _doc_items(item.get("IncidentEvents"))]
        services = [s for s in (_api_text(v, 80) for v in item.get("serviceKeys") or []
                                if isinstance(v, str)) if s]
        first = min(steps, key=lambda s: s.at or _NO_TIME).message if steps else ""
        title = f"{', '.join(services) or 'Salesforce'}: {first.split(chr(10))[0][:120]}"
        incidents.append(_doc_incident(
            ident, title.rstrip(": "), urllib.parse.urljoin(link, f"incidents/{ident}"), steps,
            status="Resolved" if over else "Ongoing", components=services,
            published=_doc_time(item.get("createdAt")),
            impact=Impact.worst(_SALESFORCE_IMPACT.get(str(i.get("severity")))
                                for i in impacts)))
    windows = {}
    for item in _doc_items(data.get("Maintenances") if isinstance(data, dict) else None):
        code = _api_id(item.get("id"))
        starts = _doc_time(item.get("plannedStartTime"))
        ends = _doc_time(item.get("plannedEndTime"))
        if code:
            windows[code] = _window(code, _api_text(item.get("name"), MAX_TITLE),
                                    _phase_by_time(starts, ends, now),
                                    urllib.parse.urljoin(link, f"maintenances/{code}"), starts,
                                    ends, _doc_text(item.get("additionalInformation")))
    return PageDoc("salesforce", incidents, None, windows if isinstance(data, dict) else None)


DocReader = Callable[[Any, str, datetime], PageDoc]

# Tried in order, each on the shape only it has: the first that knows a document reads it.
DOC_READERS: tuple[tuple[str, Callable[[object], bool], DocReader], ...] = (
    ("statuspage", _knows_statuspage_json, read_statuspage_json),
    ("instatus", _knows_instatus, read_instatus),
    ("betterstack", _knows_better_stack, read_better_stack),
    ("statusio", _knows_status_io, read_status_io),
    ("google-cloud", _knows_google_cloud, read_google_cloud_json),
    ("aws", _knows_aws_events, read_aws_events),
    ("slack", _knows_slack, read_slack),
    ("cachet", _knows_cachet, read_cachet),
    ("sorry", _knows_sorry, read_sorry),
    ("salesforce", _knows_salesforce, read_salesforce),
)


def read_document(body: bytes, source: str, now: datetime) -> PageDoc:
    """A status page's JSON document, by the first reader in DOC_READERS that knows its
    shape; FeedError when it is not JSON or no reader knows it."""
    try:
        data = json.loads(as_utf8(body))
    except (ValueError, RecursionError) as exc:
        raise FeedError(f"not JSON: {clean_text(str(exc))[:80]}") from None
    if data == [] or data == {}:
        return PageDoc("empty", [])
    for _, knows, read in DOC_READERS:
        if knows(data):
            try:
                return read(data, source, now)
            except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
                raise FeedError(f"a JSON document in a shape the tracker does not read "
                                f"({exception_words(exc, 80)})") from None
    raise FeedError("a JSON document of no status-page platform the tracker reads")


# #### Pure core: health and pacing (polls, deliveries, saves) #####################################


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a unit that can fail paces itself: a feed's polls, a webhook's deliveries, the
    state file's saves."""

    interval: float  # the normal period after a success (0: none, as for a delivery)
    max_interval: float  # ceiling for backoff, Retry-After and server freshness
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD  # failures in a row before "down"


# Outcome, Health and PollResult are made on every poll: as named tuples they are values that
# cost a fraction of a frozen dataclass to build.
class Outcome(typing.NamedTuple):
    """What one attempt came to."""

    error: str | None = None  # None: it worked
    retry_after: float | None = None  # the server asked for this many seconds of rest
    fresh_for: float | None = None  # the server says the answer stays fresh this long
    gone: bool = False  # it will never work again (HTTP 410)


class Health(typing.NamedTuple):
    failures: int = 0  # in a row
    down: bool = False  # a feed_down was said and no feed_recovered since


@dataclass(slots=True)
class Trouble:
    """A unit that can fail again and again (a feed's polls, a webhook's deliveries, the state
    file's saves, a status API): its failures in a row, their reason, when to try again. A
    failure is said once per reason (a repeat only at DEBUG), and the recovery once."""

    failures: int = 0
    reason: str | None = None
    retry_at: float | None = None  # on the monotonic clock; None: may be tried now

    def fail(self, reason: str, message: str, *args: object, level: int = logging.WARNING,
             exc_info: BaseException | None = None) -> None:
        """Count a failure; log `message % args` when its reason is not the one last said."""
        self.failures += 1
        if reason == self.reason:
            log.debug(message, *args)
        else:
            log.log(level, message, *args, exc_info=exc_info)
        self.reason = reason

    def recover(self, message: str, *args: object) -> None:
        """The unit works (again): `message % args` is logged if it was failing."""
        if self.reason is not None:
            log.warning(message, *args)
        self.failures, self.reason, self.retry_at = 0, None, None


def backoff_delay(failures: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter between `base` and the capped exponential."""
    ceiling = max(base, min(cap, base * 2 ** min(failures, 30)))
    return rng.uniform(base, ceiling)


def next_health(health: Health, outcome: Outcome, *, policy: RetryPolicy,
                rng: random.Random) -> tuple[Health, list[Kind], float]:
    """The health after one attempt, the health events it causes, and the seconds until the
    next attempt.

    A success waits the interval, or longer while the server says its answer is fresh (never
    beyond the ceiling), plus a little jitter so that feeds do not fall into step. A failure
    backs off exponentially with full jitter from the interval (at least MIN_BACKOFF, so a
    zero interval never spins), and never sooner than a Retry-After allows; "down" comes
    after `failure_threshold` failures in a row, or at once when the source is gone.
    """
    if outcome.error is None:
        delay = policy.interval
        if outcome.fresh_for is not None:
            delay = max(delay, min(outcome.fresh_for, policy.max_interval))
        delay += rng.uniform(0, min(SCHEDULE_JITTER, delay * 0.1))
        return Health(), [Kind.FEED_RECOVERED] if health.down else [], delay
    failures = health.failures + 1
    down = health.down or outcome.gone or failures >= policy.failure_threshold
    delay = backoff_delay(failures, max(policy.interval, MIN_BACKOFF), policy.max_interval, rng)
    if outcome.retry_after is not None:
        delay = max(delay, min(outcome.retry_after, policy.max_interval))
    return Health(failures, down), [Kind.FEED_DOWN] if down and not health.down else [], delay


def start_spread(feeds: int, interval: float) -> float:
    """Seconds over which the first polls of `feeds` feeds are spread: at least START_SPREAD,
    wider for a large fleet, never beyond one interval (so every feed is read in the first)."""
    return min(interval, max(START_SPREAD, feeds / FIRST_POLLS_PER_SECOND))


# #### Pure core: rendering (the console block, JSON, chat formats) ################################


class Format(StrEnum):
    """How a route's bodies are shaped; AUTO picks one by the URL (see resolve_format)."""

    AUTO = "auto"
    SLACK = "slack"
    DISCORD = "discord"
    TEAMS = "teams"
    NTFY = "ntfy"
    JSON = "json"
    APPRISE = "apprise"


_TEAMS_HOSTS = (".logic.azure.com", ".powerautomate.com", ".powerplatform.com")


def resolve_format(url: str, fmt: str) -> Format:
    """What "auto" means for a URL: Slack, Discord and Teams Workflows by host, Apprise for
    any scheme but http(s), else the generic JSON event."""
    if fmt != Format.AUTO:
        return Format(fmt)
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("http", "https"):
        return Format.APPRISE
    if host == "hooks.slack.com":
        return Format.SLACK
    if host.endswith(("discord.com", "discordapp.com")) and parts.path.startswith(
            "/api/webhooks"):
        return Format.DISCORD
    if host.endswith(_TEAMS_HOSTS):
        return Format.TEAMS
    return Format.JSON


def _stamp(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "time unknown"


def format_event(event: IncidentEvent, *, message_limit: int = CONSOLE_MESSAGE) -> str:
    """The human-readable block for one event (console, Slack, Discord)."""
    inc = event.incident
    if inc is None:
        if event.kind is Kind.FEED_DOWN:
            return (f"[{_stamp(event.at)}] Product: {event.feed} - feed down\n"
                    f"  Error:    {event.error}")
        return f"[{_stamp(event.at)}] Product: {event.feed} - feed recovered"
    product = event.feed + (" - " + ", ".join(inc.components) if inc.components else "")
    lines = [
        f"[{_stamp(inc.updated or inc.published)}] Product: {product}",
        f"  Event:    {event.kind.label}",
        f"  Incident: {inc.title or '(untitled)'}",
        f"  Status:   {inc.status or 'unknown'}",
    ]
    if inc.scheduled_for or inc.scheduled_until:
        lines.append(f"  Window:   {_stamp(inc.scheduled_for)} to {_stamp(inc.scheduled_until)}")
    elif inc.impact:
        lines.append(f"  Impact:   {inc.impact}")
    if inc.message:
        lines.append(f"  Message:  {_clip(inc.message, message_limit)}")
    lines += [f"  {'Earlier:' if n == 0 else ''}".ljust(12) + line
              for n, line in enumerate(_earlier_lines(inc))]
    if inc.link:
        lines.append(f"  Link:     {inc.link}")
    return "\n".join(lines)


def _earlier_lines(inc: Incident) -> list[str]:
    """One short line per step reported with the newest (found together after a gap)."""
    return [f"{_stamp(step.at)}  {step.status or 'unknown'}"
            + (f" - {_clip(step.message, EARLIER_MESSAGE)}" if step.message else "")
            for step in inc.steps[:-1]]


def _step_dict(step: Step) -> dict[str, Any]:
    return {"status": step.status, "message": step.message, "at": _iso(step.at)}


def event_to_dict(event: IncidentEvent) -> dict[str, Any]:
    """The --json object for one event (webhooks add an event_id)."""
    inc = event.incident
    if inc is None:
        return {"kind": event.kind, "feed": event.feed, "error": event.error,
                "at": _iso(event.at)}
    data = {
        "kind": event.kind, "feed": event.feed, "id": inc.id, "title": inc.title,
        "status": inc.status, "components": list(inc.components), "impact": inc.impact,
        "message": inc.message, "link": inc.link, "published": _iso(inc.published),
        "updated": _iso(inc.updated),
        "steps": [_step_dict(s) for s in inc.steps or (_latest_step(inc),)],
    }
    if inc.maintenance and event.kind.maintenance:
        data["scheduled_for"] = _iso(inc.scheduled_for)
        data["scheduled_until"] = _iso(inc.scheduled_until)
    return data


def _slack_escape(text: str) -> str:
    # Slack treats <, > and & as markup (<!channel> pings everyone).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MARKDOWN = re.compile(r"([\\`*_~|>#\[\]])")
_CARD_MARKUP = re.compile(r"([*_\]])")


def _markdown_escape(text: str) -> str:
    """Feed text shown as itself in Discord, which renders Markdown and honours backslashes."""
    return _MARKDOWN.sub(r"\\\1", text)


def _card_escape(text: str) -> str:
    """Feed text shown as itself in a Teams card, whose Markdown (bold, italic, links) has no
    documented escape: a zero-width space after *, _ and ] keeps them from pairing up."""
    return _CARD_MARKUP.sub("\\1\u200b", text)


def _event_line(event: IncidentEvent) -> str:
    """One line of a digest."""
    inc = event.incident
    if inc is None:
        what = f"feed down: {event.error}" if event.kind is Kind.FEED_DOWN else "feed recovered"
        return f"{_stamp(event.at)}  {what}"
    components = f" ({', '.join(inc.components)})" if inc.components else ""
    label = event.kind.label
    return (f"{_stamp(inc.updated or inc.published)}  {label}: {inc.title or '(untitled)'} - "
            f"{inc.status or 'unknown'}{components}")


def _digest_groups(events: Sequence[IncidentEvent]) -> list[tuple[str, list[IncidentEvent]]]:
    """Events by feed (feeds in the order they first appear), each feed's in time order, so
    the newest state of each incident comes last."""
    groups: dict[str, list[IncidentEvent]] = {}
    for event in events:
        groups.setdefault(event.feed, []).append(event)
    return [(feed, sorted(group, key=_event_time)) for feed, group in groups.items()]


def _event_time(event: IncidentEvent) -> datetime:
    inc = event.incident
    return (inc.updated or inc.published if inc else event.at) or _NO_TIME


def _digest_text(events: Sequence[IncidentEvent]) -> str:
    lines = [_title(events)]
    for feed, group in _digest_groups(events):
        lines.append(feed)
        lines.extend(f"  {_event_line(e)}" for e in group)
    return "\n".join(lines)


def _title(events: Sequence[IncidentEvent]) -> str:
    if len(events) > 1:
        return f"Status digest: {plural(len(events), 'event')}"
    event = events[0]
    inc = event.incident
    if inc is None:
        return f"{event.feed}: feed {'down' if event.kind == 'feed_down' else 'recovered'}"
    return f"{event.feed}: {inc.title or '(untitled)'} - {inc.status or 'unknown'}"


def _text(events: Sequence[IncidentEvent]) -> str:
    if len(events) > 1:
        return _digest_text(events)
    return format_event(events[0], message_limit=MAX_MESSAGE)


def _worst_impact(events: Sequence[IncidentEvent]) -> Impact | None:
    return Impact.worst(e.incident.impact for e in events if e.incident)


def _teams_body(events: Sequence[IncidentEvent]) -> dict[str, Any]:
    """A message with one Adaptive Card: what Teams Workflows accept (connectors retired)."""
    def block(text: str, **style: Any) -> dict[str, Any]:
        return {"type": "TextBlock", "text": _card_escape(_clip(text, TEAMS_LIMIT // 4)),
                "wrap": True, **style}

    body: list[dict[str, Any]] = [block(_title(events), weight="Bolder", size="Medium")]
    actions = []
    if len(events) == 1 and (inc := events[0].incident) is not None:
        facts = [("Event", events[0].kind.label),
                 ("Status", inc.status or "unknown"), ("Feed", events[0].feed)]
        if inc.components:
            facts.append(("Components", ", ".join(inc.components)))
        if inc.impact:
            facts.append(("Impact", inc.impact))
        if inc.scheduled_for:
            facts.append(("Window", f"{_stamp(inc.scheduled_for)} to "
                                    f"{_stamp(inc.scheduled_until)}"))
        body.append({"type": "FactSet", "facts": [
            {"title": t, "value": _card_escape(_clip(v, 500))} for t, v in facts]})
        if inc.message:
            body.append(block(inc.message))
        if earlier := _earlier_lines(inc):
            body.append(block("Earlier:\n" + "\n".join(earlier), isSubtle=True))
        if inc.link.startswith(("http://", "https://")):
            actions.append({"type": "Action.OpenUrl", "title": "Open", "url": inc.link})
    elif len(events) == 1:
        body.append(block(events[0].error or "The feed reads again."))
    else:
        for feed, group in _digest_groups(events):
            body.append(block(feed, weight="Bolder"))
            body.append(block("\n".join(_event_line(e) for e in group)))
    card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                            "type": "AdaptiveCard", "version": "1.4", "body": body}
    if actions:
        card["actions"] = actions
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": card}]}


_NTFY_PRIORITY = {"critical": 5, "major": 4, "minor": 3, "none": 2}


def ntfy_target(url: str) -> tuple[str, str]:
    """Where ntfy's JSON form is posted, and the topic, from a route URL BASE/TOPIC: the topic
    is the last segment of the path, the rest is the server (which may sit under a path behind
    a reverse proxy), and a query (?auth=…, ntfy's token form) is kept."""
    parts = urllib.parse.urlsplit(url)
    base, _, topic = parts.path.rstrip("/").rpartition("/")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, base + "/", parts.query,
                                    "")), topic


def _clip_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8, on a character boundary, "…" marking a
    cut (ntfy counts bytes, and a message in Cyrillic or CJK has 2 or 3 per character)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit - 3].decode("utf-8", "ignore").rstrip() + "…"


def _ntfy_body(url: str, events: Sequence[IncidentEvent]) -> dict[str, Any]:
    """ntfy's JSON publish form: posted to the server (see ntfy_target), the topic inside."""
    impact = _worst_impact(events)
    down = any(e.kind is Kind.FEED_DOWN for e in events)
    tags = ["rotating_light"] if (impact and impact.rank >= Impact.MAJOR.rank) or down else [
        "warning"]
    if _all_clear(events):
        tags = ["white_check_mark"]
    if any(e.kind.maintenance for e in events):
        tags = ["wrench"]
    body: dict[str, Any] = {
        "topic": ntfy_target(url)[1], "title": _clip_bytes(_title(events), 250),
        "message": _clip_bytes(_text(events), NTFY_LIMIT), "tags": tags,
        "priority": 4 if down else _NTFY_PRIORITY.get(impact or "", 3)}
    link = events[0].incident.link if len(events) == 1 and events[0].incident else ""
    if link.startswith(("http://", "https://")):
        body["click"] = link
    return body


def _all_clear(events: Sequence[IncidentEvent]) -> bool:
    """Every event says something is over: resolved incidents, a feed that reads again."""
    return all(e.kind is Kind.FEED_RECOVERED or (e.incident is not None and not e.incident.active)
               for e in events)


def _product(event: IncidentEvent) -> str:
    inc = event.incident
    return ", ".join(inc.components) if inc and inc.components else event.feed


def _slack_link(url: str, text: str) -> str:
    """A Slack link; | and > would end the URL part early, so they are percent-encoded."""
    return f"<{url.replace('|', '%7C').replace('>', '%3E')}|{_slack_escape(text)}>"


def _slack_body(events: Sequence[IncidentEvent]) -> dict[str, Any]:
    """A Block Kit message: title in bold, status and product on one line, the message, earlier
    steps in small print, the link as a link. Feed text is escaped (&, <, >), so it can ping
    nobody (<!channel>) and make no link of its own."""
    text = _clip(_slack_escape(_text(events) if len(events) > 1 else _title(events)),
                 SLACK_LIMIT)
    blocks: list[dict[str, Any]] = []

    def section(markdown: str) -> None:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": _clip(markdown, SLACK_SECTION)}})

    if len(events) > 1:
        section(f"*{_slack_escape(_title(events))}*")
        for feed, group in _digest_groups(events)[:SLACK_BLOCKS - 1]:
            section(f"*{_slack_escape(feed)}*\n" + "\n".join(
                f"• {_slack_escape(_event_line(e))}" for e in group))
        return {"text": text, "blocks": blocks}
    event = events[0]
    inc = event.incident
    if inc is None:
        section(f"*{_slack_escape(_title(events))}*"
                + (f"\n{_slack_escape(event.error)}" if event.error else ""))
        return {"text": text, "blocks": blocks}
    facts = [f"*{_slack_escape(inc.status or 'unknown')}*", _slack_escape(_product(event))]
    if inc.impact:
        facts.append(f"impact {_slack_escape(inc.impact)}")
    facts.append(_slack_escape(event.kind.label))
    title = _slack_escape(f"{event.feed}: {inc.title or '(untitled)'}")
    lines = [f"*{title}*", " · ".join(facts)]
    if inc.scheduled_for or inc.scheduled_until:
        lines.append(f"{_stamp(inc.scheduled_for)} to {_stamp(inc.scheduled_until)}")
    if inc.message:
        lines.append(_slack_escape(_clip(inc.message, SLACK_SECTION - 1000)))
    if inc.link.startswith(("http://", "https://")):
        lines.append(_slack_link(inc.link, "Open the incident"))
    section("\n".join(lines))
    small = [_stamp(inc.updated or inc.published)]
    if earlier := _earlier_lines(inc):
        small += ["Earlier:", *(_slack_escape(line) for line in earlier)]
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": _clip("\n".join(small), SLACK_SECTION)}]})
    return {"text": text, "blocks": blocks}


# Embed colours by what an event says, worst first.
_DISCORD_COLOURS = {"critical": 0xB42318, "major": 0xE5484D, "minor": 0xF5A524,
                    "maintenance": 0x3B82F6, "clear": 0x2DA44E, "other": 0x8B949E}


def _discord_colour(events: Sequence[IncidentEvent]) -> int:
    if any(e.kind is Kind.FEED_DOWN for e in events):
        return _DISCORD_COLOURS["critical"]
    if _all_clear(events):
        return _DISCORD_COLOURS["clear"]
    if impact := _worst_impact(events):
        return _DISCORD_COLOURS.get(impact, _DISCORD_COLOURS["other"])
    if any(e.kind.maintenance for e in events):
        return _DISCORD_COLOURS["maintenance"]
    return _DISCORD_COLOURS["minor"] if any(e.incident for e in events) else (
        _DISCORD_COLOURS["other"])


def _discord_body(events: Sequence[IncidentEvent]) -> dict[str, Any]:
    """One embed per event (per feed for a digest): a colour by impact, the incident's link as
    its URL, feed text with its Markdown escaped, and mentions off, so that feed text saying
    @everyone pings nobody. Each part keeps to Discord's limits, and the whole to 6,000."""
    md = _markdown_escape
    colour = _discord_colour(events)
    embeds: list[dict[str, Any]] = []
    if len(events) > 1:
        for feed, group in _digest_groups(events)[:DISCORD_EMBEDS]:
            embeds.append({"title": _clip(md(feed), 256), "color": colour,
                           "description": _clip("\n".join(md(_event_line(e)) for e in group),
                                                DISCORD_BUDGET // DISCORD_EMBEDS)})
        return {"content": _clip(md(_title(events)), DISCORD_LIMIT), "embeds": embeds,
                "allowed_mentions": {"parse": []}}
    event = events[0]
    inc = event.incident
    embed: dict[str, Any] = {"title": _clip(md(_title(events)), 256), "color": colour}
    if inc is None:
        embed["description"] = _clip(md(event.error or "The feed reads again."), 2000)
        if event.at:
            embed["timestamp"] = _iso(event.at)
        return {"embeds": [embed], "allowed_mentions": {"parse": []}}
    fields = [("Status", inc.status or "unknown"), ("Product", _product(event)),
              ("Event", event.kind.label)]
    if inc.impact:
        fields.append(("Impact", inc.impact))
    if inc.scheduled_for or inc.scheduled_until:
        fields.append(("Window", f"{_stamp(inc.scheduled_for)} to {_stamp(inc.scheduled_until)}"))
    embed["fields"] = [{"name": name, "value": _clip(md(value), 1024), "inline": True}
                       for name, value in fields]
    description = md(inc.message)
    if earlier := _earlier_lines(inc):
        description += "\n\n**Earlier**\n" + "\n".join(md(line) for line in earlier)
    if description:
        embed["description"] = _clip(description, DISCORD_DESCRIPTION)
    if inc.link.startswith(("http://", "https://")):
        embed["url"] = inc.link
    if (when := inc.updated or inc.published) is not None:
        embed["timestamp"] = _iso(when)
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


def _apprise_type(events: Sequence[IncidentEvent]) -> str:
    """Apprise's notification type: what is over is a success, an outage a failure."""
    if any(e.kind is Kind.FEED_DOWN for e in events) or _worst_impact(events) in (
            "major", "critical"):
        return "failure"
    if _all_clear(events):
        return "success"
    return "info" if all(e.kind.maintenance for e in events) else "warning"


def _json_body(events: Sequence[IncidentEvent]) -> dict[str, Any]:
    """The --json object and its event_id; several as a digest."""
    if len(events) == 1:
        return {**event_to_dict(events[0]), "event_id": events[0].event_id}
    return {"kind": "digest", "event_id": _digest_id(events), "events": [
        {**event_to_dict(e), "event_id": e.event_id} for e in events]}


def _apprise_body(events: Sequence[IncidentEvent]) -> dict[str, Any]:
    return {"title": _title(events), "body": _text(events), "type": _apprise_type(events)}


# How each format shapes a body: from the route's URL (ntfy's topic is in it) and the events.
_BODIES: dict[Format, Callable[[str, Sequence[IncidentEvent]], dict[str, Any]]] = {
    Format.SLACK: lambda _url, events: _slack_body(events),
    Format.DISCORD: lambda _url, events: _discord_body(events),
    Format.TEAMS: lambda _url, events: _teams_body(events),
    Format.NTFY: _ntfy_body,
    Format.APPRISE: lambda _url, events: _apprise_body(events),
    Format.JSON: lambda _url, events: _json_body(events),
}


def render(route_url: str, fmt: str, events: Sequence[IncidentEvent]) -> str:
    """The body sent for one event, or one digest of several, in the route's format."""
    body = _BODIES[resolve_format(route_url, fmt)](route_url, events)
    return json.dumps(body, ensure_ascii=False)


def _digest_id(events: Sequence[IncidentEvent]) -> str:
    return hashlib.sha256("\x1f".join(e.event_id for e in events).encode()).hexdigest()[:32]


def event_from_dict(data: Mapping[str, Any]) -> IncidentEvent:
    """An event back from its --json object (how held events wait in the state file)."""
    def when_of(value: object) -> datetime | None:
        return _api_time(value) if isinstance(value, str) else None

    def when(key: str) -> datetime | None:
        return when_of(data.get(key))

    kind = Kind(data["kind"])  # a ValueError names one that is not
    if "title" not in data:
        return IncidentEvent(str(data["feed"]), kind, error=data.get("error"), at=when("at"))
    inc = Incident(
        id=str(data["id"]), title=str(data["title"]), link=str(data.get("link") or ""),
        status=str(data.get("status") or ""), components=tuple(map(str, data["components"])),
        message=str(data.get("message") or ""), published=when("published"),
        updated=when("updated"), impact=data.get("impact"),
        maintenance=kind.maintenance,
        scheduled_for=when("scheduled_for"), scheduled_until=when("scheduled_until"),
        steps=tuple(Step(str(s.get("status") or ""), str(s.get("message") or ""),
                         when_of(s.get("at")), "") for s in data.get("steps", [])))
    return IncidentEvent(str(data["feed"]), kind, inc)


# #### Pure core: the status board #################################################################


STOPPED = "stopped"  # why a page was not read: a stop came before its answer
NOT_READ = f"not read: {STOPPED}"
NOT_YET = "not read yet"  # a watch's feed before its first poll: nothing is known of it


class Level(IntEnum):
    """How a provider stands on the board, best to worst; INCIDENT is an open incident whose
    impact the source does not say."""

    OPERATIONAL = 0
    MAINTENANCE = 1
    DEGRADED = 2
    INCIDENT = 3
    MINOR = 4
    MAJOR = 5
    CRITICAL = 6
    NOT_READ = 7
    FEED_FAILING = 8

    @property
    def word(self) -> str:
        """As the board and /status say it."""
        return self.name.lower().replace("_", " ")

    @property
    def colour(self) -> str:
        """Its SGR colour on a terminal."""
        return ("32", "34", "33", "33", "33", "31", "1;31", "2", "1;31")[self]


_IMPACT_LEVELS = {Impact.MINOR: Level.MINOR, Impact.MAJOR: Level.MAJOR,
                  Impact.CRITICAL: Level.CRITICAL}


@dataclass(slots=True)
class BoardEntry:
    """What the board shows of one provider."""

    name: str
    error: str | None = None  # the feed could not be read
    api_error: str | None = None  # the feed was read, its summary.json not
    components: list[tuple[str, str]] = field(default_factory=list)  # (name, status) not ok
    incidents: list[Incident] = field(default_factory=list)  # open ones
    maintenance: list[Incident] = field(default_factory=list)  # under way or due within 7 days
    watcher_failures: int = 0  # failed polls the running tracker's state file records
    names: list[str] = field(default_factory=list)  # every component listed, where known

    @property
    def level(self) -> Level:
        if self.error in (STOPPED, NOT_YET):
            return Level.NOT_READ
        if self.error is not None:
            return Level.FEED_FAILING
        worst = Impact.worst(i.impact for i in self.incidents)
        if worst in _IMPACT_LEVELS:
            return _IMPACT_LEVELS[worst]
        if self.incidents:
            return Level.INCIDENT
        if self.components:
            return Level.DEGRADED
        if any(Phase.of(m.status) is Phase.STARTED for m in self.maintenance):
            return Level.MAINTENANCE
        return Level.OPERATIONAL


def _age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "age unknown"
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // 1440} days"


def _worst_first(entries: Iterable[BoardEntry]) -> list[BoardEntry]:
    return sorted(entries, key=lambda e: (-e.level, e.name.lower()))


def render_board(entries: Sequence[BoardEntry], *, now: datetime, colour: bool) -> str:
    """The board as plain aligned text, worst provider first."""
    ordered = _worst_first(entries)
    width = max((len(e.name) for e in ordered), default=0)
    lines = []
    for entry in ordered:
        level = entry.level
        shown = f"\x1b[{level.colour}m{level.word}\x1b[0m" if colour else level.word
        detail = f": {entry.error}" if entry.error else ""
        if entry.api_error:
            detail += f" (status API: {entry.api_error})"
        if entry.watcher_failures:
            detail += f" (the watcher's state: {plural(entry.watcher_failures, 'failed poll')})"
        lines.append(f"{entry.name.ljust(width)}  {shown}{detail}")
        for name, status in entry.components:
            lines.append(f"  component    {name}: {status}")
        for inc in entry.incidents:
            impact = f", {inc.impact}" if inc.impact else ""
            lines.append(f"  incident     {inc.title} ({inc.status or 'open'}{impact}, "
                         f"{_age(inc.published or inc.updated, now)})")
        for window in entry.maintenance:
            lines.append(f"  maintenance  {window.title} ({window.status.lower()}, "
                         f"{_stamp(window.scheduled_for)} to {_stamp(window.scheduled_until)})")
    return "\n".join(lines)


def board_to_dict(entries: Sequence[BoardEntry], *, now: datetime) -> dict[str, Any]:
    return {"at": _iso(now), "feeds": [{
        "feed": e.name, "level": e.level.word, "error": e.error, "api_error": e.api_error,
        "watcher_failures": e.watcher_failures,
        "components": [{"name": n, "status": s} for n, s in e.components],
        "incidents": [{"id": i.id, "code": i.code or None, "title": i.title,
                       "status": i.status, "impact": i.impact,
                       "components": list(i.components), "link": i.link,
                       "since": _iso(i.published or i.updated)} for i in e.incidents],
        "maintenance": [{"title": m.title, "status": m.status, "link": m.link,
                         "scheduled_for": _iso(m.scheduled_for),
                         "scheduled_until": _iso(m.scheduled_until)} for m in e.maintenance],
    } for e in _worst_first(entries)]}


class FailOn(IntEnum):
    """--fail-on's scale: what the board shows at this level or worse fails the gate."""

    MAINTENANCE = 0
    MINOR = 1
    MAJOR = 2
    CRITICAL = 3


FAIL_ON_LEVELS = tuple(level.name.lower() for level in FailOn)  # what --fail-on takes
# How bad a component's state is on that scale (an open incident of unknown impact is minor).
_FAIL_RANK_OF_STATE = {"under_maintenance": FailOn.MAINTENANCE,
                       "degraded_performance": FailOn.MINOR, "partial_outage": FailOn.MAJOR,
                       "major_outage": FailOn.CRITICAL}
_STATE_OF_WORD = {word.lower(): key for key, word in _COMPONENT_STATUS.items()}


def _component_rank(status_word_or_key: str) -> FailOn | None:
    key = _STATE_OF_WORD.get(status_word_or_key.lower(), status_word_or_key)
    return _FAIL_RANK_OF_STATE.get(key)


def _incident_rank(inc: Incident) -> FailOn:
    impact = Impact.read(inc.impact)
    return FailOn(max(FailOn.MINOR, impact.rank)) if impact in _IMPACT_RANK else FailOn.MINOR


def fail_reasons(entry: BoardEntry, level: str, components: Sequence[str] = ()) -> list[str]:
    """Why a page fails --fail-on LEVEL: each thing on its board at that level or worse,
    only those touching `components` when some are named (an incident whose components are
    unknown touches them all). Names the page is known not to list leave it whole: with
    `--feed stripe --feed github --component Actions`, Stripe is gated as a page."""
    threshold = FailOn[level.upper()]
    if entry.names:
        components = [w for w in components if any(component_matches(w, n)
                                                    for n in entry.names)]

    def touches(names: Sequence[str]) -> bool:
        return not components or not names or any(
            component_matches(w, n) for w in components for n in names)

    reasons = [f"{name}: {word}" for name, word in entry.components
               if (rank := _component_rank(word)) is not None and rank >= threshold
               and touches([name])]
    reasons += [f"incident {inc.title!r} ({inc.impact or 'impact not said'})"
                for inc in entry.incidents if _incident_rank(inc) >= threshold
                and touches(inc.components)]
    if threshold is FailOn.MAINTENANCE:
        reasons += [f"maintenance {w.title!r} in progress" for w in entry.maintenance
                    if Phase.of(w.status) is Phase.STARTED and touches(w.components)]
    return reasons


def unknown_components(page: str, wanted: Sequence[str], listed: Sequence[Component]
                       ) -> list[str]:
    """A warning for each component a filter names that the page does not list (a group's
    name included: events name its members), with the nearest it does; none when the page's
    components are not known."""
    names = [c.name for c in listed]
    warnings = []
    for want in wanted if names else ():
        if any(component_matches(want, name) for name in names):
            continue
        members = [c.name for c in listed if (c.group or "").lower() == want.lower()]
        near = difflib.get_close_matches(want, names, n=1, cutoff=0.5)
        if members:
            hint = f"it is a group: name its members ({', '.join(members[:8])})"
        elif near:
            hint = f"did you mean {near[0]!r}?"
        else:
            hint = f"it has {', '.join(names[:8])}{'…' if len(names) > 8 else ''}"
        warnings.append(f"{page} has no component {want!r}; {hint}")
    return warnings


def board_windows(windows: Mapping[str, ApiIncident], now: datetime) -> list[Incident]:
    """Maintenance the board shows: under way, or scheduled within the next 7 days and not
    yet over; soonest first."""
    shown = []
    for window in windows.values():
        phase = Phase.of(window.status)
        due = (window.scheduled_for is None
               or window.scheduled_for <= now + BOARD_MAINTENANCE_AHEAD) and (
            window.scheduled_until is None or window.scheduled_until >= now)
        if phase is Phase.STARTED or (phase is Phase.SCHEDULED and due):
            shown.append(_window_at(window, phase))
    return sorted(shown, key=lambda w: w.scheduled_for or _NO_TIME)


# #### Pure core: the catalogue (status pages by name) ############################################


class Platform(StrEnum):
    """What serves a status page, which says where its feed and its JSON documents live."""

    STATUSPAGE = "statuspage"
    INCIDENT_IO = "incidentio"
    STATUS_IO = "statusio"
    INSTATUS = "instatus"
    BETTER_STACK = "betterstack"
    GOOGLE_CLOUD = "google-cloud"
    AWS = "aws"
    SLACK = "slack"
    CACHET = "cachet"
    SORRY = "sorry"
    SALESFORCE = "salesforce"
    FEED = "feed"  # a page of its own making, read through its Atom or RSS feed
    UNKNOWN = "unknown"  # found out at the first read, from the page itself

    @property
    def label(self) -> str:
        """As people name it: "Atlassian Statuspage"."""
        return _PLATFORM_TITLES[self]


_PLATFORM_TITLES = {
    Platform.STATUSPAGE: "Atlassian Statuspage", Platform.INCIDENT_IO: "incident.io",
    Platform.STATUS_IO: "Status.io", Platform.INSTATUS: "Instatus",
    Platform.BETTER_STACK: "Better Stack", Platform.GOOGLE_CLOUD: "Google Cloud Service Health",
    Platform.AWS: "AWS Health Dashboard", Platform.SLACK: "Slack status",
    Platform.CACHET: "Cachet", Platform.SORRY: "Sorry", Platform.SALESFORCE: "Salesforce Trust",
    Platform.FEED: "an Atom or RSS feed", Platform.UNKNOWN: "found at the first read"}

# What a platform's page serves where the catalogue names no path of its own: the document
# the tracker polls, and the one that lists the page's components with their states.
_WATCHED = {Platform.STATUSPAGE: "history.atom", Platform.INCIDENT_IO: "feed.atom",
            Platform.BETTER_STACK: "index.json", Platform.SORRY: "api/v1/notices",
            Platform.CACHET: "api/v1/incidents"}
_COMPONENTS_AT = {Platform.STATUSPAGE: "api/v2/summary.json",
                  Platform.INCIDENT_IO: "api/v2/summary.json",
                  Platform.INSTATUS: "v2/components.json", Platform.BETTER_STACK: "index.json",
                  Platform.SORRY: "api/v1/components", Platform.CACHET: "api/v1/components"}
_STATUS_IO_PAGE = re.compile(r"pages/([0-9a-f]{24})/rss$")


@dataclass(frozen=True, slots=True)
class Page:
    """A status page of the catalogue: its key (what --feed takes), name, platform, page
    address, the address polled, and words --list-pages finds it by."""

    key: str
    name: str
    platform: Platform
    page: str
    url: str  # polled: a feed, a platform's JSON document, or the page itself (UNKNOWN)
    tags: tuple[str, ...] = ()

    @property
    def components_url(self) -> str | None:
        """The document that lists the page's components, where its platform has one."""
        if self.platform is Platform.STATUS_IO and (m := _STATUS_IO_PAGE.search(self.url)):
            return f"{self.url[:m.start()]}1.0/status/{m[1]}"
        path = _COMPONENTS_AT.get(self.platform)
        return urllib.parse.urljoin(self.page, path) if path else None

    @property
    def api(self) -> str | None:
        """Where a Statuspage page's /api/v2/ lives, which names the components and impact
        of each incident and lists maintenance. (incident.io's copy of it lists neither,
        and its feed names the components.)"""
        return self.page.rstrip("/") if self.platform is Platform.STATUSPAGE else None


# One page a line: key|name|platform|page|polled|tags. The page is an https address without
# its scheme; what is polled, when it is not the platform's usual document, is relative to
# the page or a whole address; a line that starts with spaces goes on from the one above.
# Sources: public lists of status pages (their files and commits are cited in the project's
# history); a page moves, so an entry is corrected by editing its line, and `--discover
# PAGE` shows what a page serves today.
_CATALOGUE = """\
1password|1Password|statuspage|status.1password.com/
airbrake|Airbrake|statuspage|status.airbrake.io/||cloud monitoring
akamai|Akamai|statuspage|www.akamaistatus.com/
anthropic|Anthropic (Claude)|statuspage|status.claude.com/||ai
appneta|Broadcom AppNeta|sorry|status.broadcom.com/services/appneta/
ariscloud|Ariscloud|statuspage|status-public.ariscloud.com/||cloud
artifactoryonline|Artifactory Online|statuspage|status.artifactoryonline.com/||devops
assemblyai|AssemblyAI|statuspage|status.assemblyai.com/||ai
atlassian|Atlassian (all products)|statuspage|status.atlassian.com/
aws|Amazon Web Services|aws|health.aws.amazon.com/health/status/|
    https://health.aws.amazon.com/public/currentevents
azure|Microsoft Azure|feed|azure.status.microsoft/en-us/status/|feed/
azure-devops|Azure DevOps|feed|status.dev.azure.com/|_rss
bandwidth|Bandwidth|statuspage|status.bandwidth.com/||communications
baremetrics|Baremetrics|statuspage|status.baremetrics.com/||analytics cloud
bigwig|Bigwig|statuspage|bigwig.statuspage.io/||cloud messaging
binarylane|BinaryLane|statuspage|status.binarylane.com.au/||cloud
bitbucket|Bitbucket|statuspage|bitbucket.status.atlassian.com/
bitrise|Bitrise|statuspage|status.bitrise.io/||cd ci devops
bonsai|Bonsai|statuspage|status.bonsai.io/||cloud search
box|Box|statuspage|status.box.com/||cloud storage
braze|Braze|statuspage|braze.statuspage.io/
breadcrumb|Breadcrumb|statuspage|status.breadcrumb.com/||cloud e-commerce
buildkite|Buildkite|statuspage|www.buildkitestatus.com/
bunny-net|Bunny.net|statuspage|status.bunny.net/
callfire|Callfire|statuspage|status.callfire.com/||communications
catchpoint|Catchpoint|statuspage|status.catchpoint.com/||cloud monitoring
cdnjs|cdnjs|statuspage|status.cdnjs.com/||cdn cloud
character-ai|Character.AI|unknown|status.character.ai/||ai
chargebee|Chargebee|unknown|status.chargebee.com/
chartbeat|Chartbeat|statuspage|chartbeat.statuspage.io/||analytics cloud
chef|Chef|statuspage|status.chef.io/||devops
circleci|CircleCI|statuspage|status.circleci.com/
clarifai|Clarifai|statuspage|status.clarifai.com/||ai
clearbit|Clearbit|statuspage|status.clearbit.com/
clerk|Clerk|feed|status.clerk.com/|feed.rss
clickhouse-cloud|ClickHouse Cloud|unknown|status.clickhouse.com/
clojars|Clojars|statuspage|clojars.statuspage.io/||devops
cloudamqp|CloudAMQP|statuspage|status.cloudamqp.com/||cloud messaging
cloudflare|Cloudflare|statuspage|www.cloudflarestatus.com/
cloudinary|Cloudinary|statuspage|status.cloudinary.com/
cloudsigma|CloudSigma|statuspage|status.cloudsigma.com/||cloud
cloudways|Cloudways|statuspage|status.cloudways.com/||cloud
cockroachdb-cloud|CockroachDB Cloud|unknown|status.cockroachlabs.cloud/
codeclimate|Code Climate|statuspage|status.codeclimate.com/
codeship|Codeship|statuspage|codeship.statuspage.io/||cd ci devops
codetree|Codetree|statuspage|status.codetree.com/||devops project-management
cohere|Cohere|incidentio|status.cohere.com/||ai
coinbase|Coinbase|statuspage|coinbase.statuspage.io/||cloud
confluence|Confluence|statuspage|confluence.status.atlassian.com/
confluent-cloud|Confluent Cloud|unknown|status.confluent.cloud/
credsimple|CredSimple|statuspage|status.credsimple.com/
cursor|Cursor|unknown|status.cursor.com/||ai
cxengage|CxEngage|statuspage|status.cxengage.com/||communications
datadog|Datadog (US1)|statuspage|status.datadoghq.com/
datadog-integrations|Datadog Integrations|statuspage|datadogintegrations.statuspage.io/
deadmanssnitch|Dead Man's Snitch|statuspage|status.deadmanssnitch.com/||cloud monitoring
deepgram|Deepgram|statuspage|status.deepgram.com/||ai
deepseek|DeepSeek|statuspage|status.deepseek.com/||ai
density|Server Density|statuspage|status.density.io/||cloud monitoring
descope|Descope|feed|descopestatus.com/|default/history.rss
dialpad|Dialpad|statuspage|status.dialpad.com/||communications
digitalocean|DigitalOcean|statuspage|status.digitalocean.com/
discord|Discord|statuspage|discordstatus.com/
dnsimple|DNSimple|statuspage|dnsimple.statuspage.io/||cloud dns
docker-hub|Docker (Docker Hub)|statusio|www.dockerstatus.com/|pages/533c6539221ae15e3f000031/rss
dropbox|Dropbox|statuspage|status.dropbox.com/||cloud storage
duo|Duo Security|statuspage|status.duo.com/||cloud
dynatrace|Dynatrace|statusio|dynatrace.status.io/|pages/546d8cb6af8407b6730000cb/rss
easypost|EasyPost|statuspage|easypost.statuspage.io/
elastic-cloud|Elastic|statuspage|status.elastic.co/||cloud search
elevenlabs|ElevenLabs|incidentio|status.elevenlabs.io/||ai
engineyard|Engine Yard|statuspage|engineyard.statuspage.io/||cloud
envoy|Envoy|statuspage|status.envoy.com/
exoscale|ExoScale|statuspage|exoscalestatus.com/||cloud
expo|Expo|unknown|status.expo.dev/
fastly|Fastly|feed|www.fastlystatus.com/|rss
firebase|Firebase|feed|status.firebase.google.com/|feed.atom
fireworks-ai|Fireworks AI|betterstack|status.fireworks.ai/||ai
gearhost|GearHost|statuspage|gearhost.statuspage.io/||cloud
geckoboard|Geckoboard|statuspage|geckoboard.statuspage.io/||analytics cloud
gemini-exchange|Gemini (exchange)|statuspage|status.gemini.com/
getstream|Stream|statuspage|status.getstream.io/||cloud messaging
github|GitHub|statuspage|www.githubstatus.com/
gitlab|GitLab.com|statusio|status.gitlab.com/|pages/5b36dc6502d06804c08349f7/rss
godaddy|GoDaddy|statuspage|status.godaddy.com/||cloud
google-ads|Google Ads|feed|ads.google.com/status/publisher/|de/feed.atom
google-cloud|Google Cloud (incl. Vertex AI / Gemini API)|google-cloud|status.cloud.google.com/|
    incidents.json|ai
google-search|Google Search|feed|status.search.google.com/|en/feed.atom
google-workspace|Google Workspace|feed|www.google.com/appsstatus/dashboard/|en-IN/feed.atom
goto|GoTo|statuspage|status.goto.com/|history.atom?lng=en-US|communications
grafana-cloud|Grafana Cloud|statuspage|status.grafana.com/
greenhouse|Greenhouse|statuspage|greenhouse.statuspage.io/
gridscale|GridScale|statuspage|status.gridscale.io/||cloud
groq|Groq|incidentio|groqstatus.com/||ai
hashicorp|HashiCorp|statuspage|status.hashicorp.com/
heapanalytics|Heap|statuspage|status.heapanalytics.com/||analytics cloud
helpscout|Help Scout|statuspage|status.helpscout.net/
heroku|Heroku|feed|status.heroku.com/|feed
hetzner|Hetzner|feed|status.hetzner.com/|de.atom
hubspot|HubSpot|statuspage|status.hubspot.com/||cloud
huggingface|Hugging Face|betterstack|status.huggingface.co/||ai
ibm-cloud|IBM Cloud|feed|cloud.ibm.com/status/|api/notifications/feed.rss
ifttt|IFTTT|statuspage|status.ifttt.com/||automation cloud
imgix|imgix|statuspage|status.imgix.com/
incapsula|Incapsula|statuspage|status.incapsula.com/||cloud
influxdata|InfluxData (InfluxDB Cloud)|unknown|status.influxdata.com/
instapage|Instapage|statuspage|status.instapage.com/||cloud
intuit-developer|Intuit Developer (QuickBooks Online API)|unknown|status.developer.intuit.com/
ionos-cloud|IONOS Cloud|statuspage|status.ionos.cloud/||cloud
iron|Iron.io|statuspage|status.iron.io/||devops
jira|Jira Software|statuspage|jira-software.status.atlassian.com/
jira-service-management|Jira Service Management|statuspage|
    jira-service-management.status.atlassian.com/
jumpcloud|JumpCloud|statuspage|status.jumpcloud.com/||cloud iam
keen|Keen|statuspage|status.keen.io/||analytics cloud
kickbox|Kickbox|statuspage|status.kickbox.io/||cloud email
klarna|Klarna|statuspage|status.klarna.com/||cloud e-commerce
kong|Kong (Konnect)|unknown|status.konghq.com/
lastpass|LastPass|statuspage|status.lastpass.com/||cloud
launchpad|Launchpad|statuspage|launchpad.statuspage.io/||devops
letsencrypt|Let's Encrypt|statusio|letsencrypt.status.io/|pages/55957a99e800baa4470002da/rss
librato|Librato|statuspage|status.librato.com/||cloud monitoring
lifesizecloud|Lifesize Cloud|statuspage|status.lifesizecloud.com/||communications
linear|Linear|incidentio|linearstatus.com/
linode|Linode (Akamai)|statuspage|status.linode.com/
loader|Loader.io|statuspage|status.loader.io/||devops testing
loggly|Loggly|statuspage|status.loggly.com/||cloud logging siem
mailgun|Mailgun|statuspage|status.mailgun.com/
maven-central|Maven Central (Sonatype)|statuspage|status.maven.org/
maxio|Maxio|statuspage|maxio.statuspage.io/||cloud e-commerce
messagebird|MessageBird (Bird)|unknown|status.bird.com/
metastatuspage|Atlassian Statuspage (platform status)|statuspage|metastatuspage.com/|history.atom
microsoft-365|Microsoft 365 / Microsoft Cloud|feed|status.cloud.microsoft/|api/feed/mac
mistral|Mistral AI|unknown|status.mistral.ai/||ai
modal|Modal|betterstack|status.modal.com/||ai
modeanalytics|Mode Analytics|statuspage|status.modeanalytics.com/||analytics cloud
mongodb-atlas|MongoDB Atlas / Cloud|statuspage|status.mongodb.com/
neon|Neon|statusio|neonstatus.com/|pages/6878fc85709daa75be6c7e3c/rss
netlify|Netlify|statuspage|www.netlifystatus.com/
new-relic|New Relic|statuspage|status.newrelic.com/
notion|Notion|unknown|www.notion-status.com/
npm|npm registry|statuspage|status.npmjs.org/
okta|Okta|feed|status.okta.com/|https://feeds.feedburner.com/OktaTrustRSS
onesignal|OneSignal|statuspage|status.onesignal.com/
openai|OpenAI|incidentio|status.openai.com/||ai
opsgenie|Opsgenie|statuspage|opsgenie.status.atlassian.com/
optimizely|Optimizely|statuspage|status.optimizely.com/||devops testing
oracle-cloud|Oracle Cloud Infrastructure|feed|ocistatus.oraclecloud.com/|
    api/v2/incident-summary.rss
ovhcloud-us|OVHcloud US|statusio|status.us.ovhcloud.com/|pages/59dd23da8827c804746f1664/rss
pagerduty|PagerDuty|unknown|status.pagerduty.com/
pantheon|Pantheon|statuspage|status.pantheon.io/||cloud
paypal|PayPal|feed|www.paypal-status.com/product/production/|
    https://www.paypal-status.com/feed/atom
perplexity|Perplexity|unknown|status.perplexity.com/||ai
pinecone|Pinecone|statuspage|status.pinecone.io/||ai
pingdom|SolarWinds Pingdom|sorry|status.pingdom.com/
pipedrive|Pipedrive|sorry|status.pipedrive.com/
planetscale|PlanetScale|unknown|www.planetscalestatus.com/
plivo|Plivo|statuspage|status.plivo.com/||communications
postman|Postman|unknown|status.postman.com/
proton|Proton|statuspage|status.proton.me/
pubnub|PubNub|statuspage|status.pubnub.com/||cloud messaging
pusher|Pusher|statuspage|status.pusher.com/||cloud messaging
pypi|Python infrastructure (PyPI)|statuspage|status.python.org/
qdrant|Qdrant|feed|status.qdrant.io/|feed.rss
quad9|Quad9|statuspage|uptime.quad9.net/||cloud dns
quay|Quay.io|statuspage|status.quay.io/||devops
rackspace|Rackspace|feed|rackspace.service-now.com/system_status/|
    https://rss.status.rackspace.com/snow/statusfeed
railway|Railway|instatus|railway.instatus.com/|summary.json
rapid7|Rapid7|statuspage|status.rapid7.com/||cloud
recurly|Recurly|feed|status.recurly.com/|statuspage/recurly/subscribe/rss|cloud e-commerce
red-hat|Redhat|statuspage|status.redhat.com/||cloud
redis|Redis Cloud|statuspage|status.redis.io/
redpanda|Redpanda Cloud|statuspage|status.redpanda.com/
redtailtechnology|Redtail Technology|statuspage|status.redtailtechnology.com/||cloud crm e-commerce
render|Render|statuspage|status.render.com/
replicate|Replicate|incidentio|www.replicatestatus.com/||ai
rightscale|RightScale|statuspage|status.rightscale.com/||cloud
rollbar|Rollbar|statuspage|status.rollbar.com/||cloud monitoring
rootly|Rootly|statuspage|status.rootly.com/||devops incident-management
rubygems|RubyGems.org|statuspage|status.rubygems.org/
runscope|Runscope|statuspage|status.runscope.com/
salesforce|Salesforce|salesforce|status.salesforce.com/|
    https://api.status.salesforce.com/v1/incidents/active
salesforceiq|SalesforceIQ|statuspage|status.salesforceiq.com/||cloud crm e-commerce
saucelabs|Sauce Labs|statuspage|status.saucelabs.com/||devops testing
scaleway|Scaleway|statuspage|status.scaleway.com/||cloud
scoutapp|Scout APM|statuspage|status.scoutapp.com/||cloud monitoring
segment|Segment|statuspage|status.segment.com/||analytics cloud
sendgrid|SendGrid (Twilio)|statuspage|status.sendgrid.com/|history.atom
sendwithus|Sendwithus|statuspage|status.sendwithus.com/||cloud email
sentry|Sentry|statuspage|status.sentry.io/
servicenow|ServiceNow|statuspage|servicenow.statuspage.io/
servint|ServInt|statuspage|servint.statuspage.io/||cloud
sharefile|ShareFile|statuspage|status.sharefile.com/||cloud storage
shopify|Shopify|statuspage|www.shopifystatus.com/
shopkeep|ShopKeep|statuspage|status.shopkeep.com/||cloud e-commerce
sinch|Sinch|unknown|status.sinch.com/
sitespect|SiteSpect|statuspage|status.sitespect.com/||devops testing
skylight|Skylight|statuspage|status.skylight.io/||cloud monitoring
slack|Slack|slack|slack-status.com/|feed/rss
smartsheet|Smartsheet|statuspage|status.smartsheet.com/
snowflake|Snowflake|unknown|status.snowflake.com/
sonarcloud|Sonarcloud|statuspage|sonarcloud.statuspage.io/||code-quality devops
sparkpost|SparkPost|statuspage|status.sparkpost.com/||cloud email
splashtop|Splashtop|statuspage|status.splashtop.com/||cloud remote-access
split|Split|statuspage|status.split.io/||devops
splunk-cloud|Splunk|statuspage|status.splunkcloud.com/||cloud logging siem
squarespace|Squarespace|statuspage|status.squarespace.com/
stability-ai|Stability AI|incidentio|status.stability.ai/||ai
stackit|STACKIT|statuspage|status.stackit.cloud/||cloud
status-io|Status.io (platform status)|statusio|status.status.io/|pages/51f6f2088643809b7200000d/rss
statuscast|StatusCast (platform status)|feed|status.statuscast.com/|rss
stoplight|Stoplight|statuspage|status.stoplight.io/
stripe|Stripe|feed|status.stripe.com/|https://www.stripestatus.com/history.atom
stytch|Stytch|statuspage|status.stytch.com/
sumo-logic|Sumo Logic|statusio|status.sumologic.com/|
    pages/5ea1c7ba3f2f1604b93ca38e/rss|cloud logging siem
supabase|Supabase|unknown|status.supabase.com/
supertokens|SuperTokens|instatus|supertokens.instatus.com/|default/history.rss
syncano|Syncano|statuspage|syncano.statuspage.io/
sysdig-eu|SysDig EU|statuspage|status-eu1.sysdig.com/||cloud monitoring
talkdesk|Talkdesk|statuspage|status.talkdesk.com/||communications
telnyx|Telnyx|unknown|status.telnyx.com/
together-ai|Together AI|betterstack|status.together.ai/||ai
travis-ci|Travis CI|statuspage|www.traviscistatus.com/
trello|Trello|statuspage|trello.status.atlassian.com/
twilio|Twilio|statuspage|status.twilio.com/
typeform|Typeform|statuspage|status.typeform.com/||cloud
upcloud|UpCloud|statuspage|status.upcloud.com/||cloud
upstash|Upstash|unknown|status.upstash.com/
urllo|Urllo|statuspage|urllo.statuspage.io/||cloud
vercel|Vercel|statuspage|www.vercel-status.com/
victorops|VictorOps|statuspage|status.victorops.com/||devops incident-management
vonage|Vonage API|statuspage|vonageapi.statuspage.io/
voyage-ai|Voyage AI|statuspage|voyageai-status.statuspage.io/||ai
webex|Webex|statuspage|status.webex.com/|history.rss|communications
websolr|WebSolr|statuspage|status.websolr.com/||cloud search
windsurf|Windsurf (Codeium)|unknown|status.windsurf.com/||ai
xai|xAI (Grok)|feed|status.x.ai/|feed.xml|ai
xero|Xero|unknown|status.xero.com/
xero-developer|Xero Developer|statuspage|status.developer.xero.com/
zapier|Zapier|statuspage|status.zapier.com/||automation cloud
zoho|Zoho|feed|status.zoho.com/|rss|cloud
zoom|Zoom|statuspage|status.zoom.us/
zuora|Zuora|statuspage|trust.zuora.com/
"""


@functools.cache
def catalogue() -> dict[str, Page]:
    """Every page of the catalogue by key."""
    lines: list[str] = []
    for line in _CATALOGUE.splitlines():
        if line.startswith(" "):
            lines[-1] += line.strip()
        elif line:
            lines.append(line)
    pages = {}
    for line in lines:
        key, name, platform, page, url, tags = [*line.split("|"), "", ""][:6]
        page = f"https://{page}"
        kind = Platform(platform)
        where = url or _WATCHED.get(kind, "")
        pages[key] = Page(key, name, kind, page, urllib.parse.urljoin(page, where),
                          tuple(tags.split()))
    return pages


def find_page(text: str) -> Page | None:
    """The catalogue's page for a key, a name or a page address, case aside."""
    wanted = text.strip().casefold()
    pages = catalogue()
    if wanted in pages:
        return pages[wanted]
    address = re.sub(r"^https?://", "", wanted).rstrip("/")
    for page in pages.values():
        name = page.name.casefold()
        # "Google Cloud" is "Google Cloud (incl. Vertex AI / Gemini API)": what the brackets
        # add is a note, not the name.
        if wanted in (name, name.split(" (", 1)[0]) or address == page.page.casefold(
                ).removeprefix("https://").rstrip("/"):
            return page
    return None


def nearest_pages(text: str, count: int = 3) -> list[str]:
    """The keys nearest to a mistyped name: by spelling, then by a shared beginning."""
    wanted = text.strip().casefold()
    pages = catalogue()
    names = {p.name.casefold(): key for key, p in pages.items()}
    found = difflib.get_close_matches(wanted, [*pages, *names], n=count * 2, cutoff=0.0)
    keys = [key for key in pages if len(wanted) >= 3 and key.startswith(wanted[:3])]
    keys += [names.get(match, match) for match in found]
    return list(dict.fromkeys(keys))[:count]


def unknown_page(text: str) -> str:
    """The error for a name the catalogue does not hold, with the nearest it does."""
    return (f"unknown page {clean_text(text)[:40]!r}; the nearest: "
            f"{', '.join(nearest_pages(text))} (--list-pages shows them all)")


def match_pages(words: Sequence[str]) -> list[Page]:
    """The pages every word finds: a tag, a word of the key, name, page host or platform, or
    (three letters or more) the beginning of one."""
    def finds(word: str, page: Page) -> bool:
        word = word.casefold()
        host = urllib.parse.urlsplit(page.page).hostname or ""
        words = {*page.tags, *re.split(r"[^\w]+", f"{page.key} {page.name} {host} "
                                                   f"{page.platform}".casefold())}
        return word in words or (len(word) >= 3 and any(w.startswith(word) for w in words))

    parts = [part for word in words for part in re.split(r"[^\w]+", word) if part]
    return [page for page in catalogue().values() if all(finds(w, page) for w in parts)]


# #### I/O edge: HTTP ##############################################################################


_T = typing.TypeVar("_T")
_R = typing.TypeVar("_R")


_THREAD_SLOTS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = weakref.WeakKeyDictionary()


async def in_daemon_thread(func: Callable[[_T], _R], arg: _T, *, pool: str = "parse") -> _R:
    """`func(arg)` in a daemon thread, at most PARSE_THREADS at once per pool and loop.

    asyncio.to_thread's pool is joined when asyncio.run returns, so a stop would wait for a
    parse of several seconds to finish; a daemon thread is simply left behind. Parsing and
    blocking deliveries (Apprise) have pools of their own: a delivery stuck for its 30 s must
    not keep a feed from being parsed.
    """
    loop = asyncio.get_running_loop()
    pools = _THREAD_SLOTS.setdefault(loop, {})
    slots = pools.setdefault(pool, asyncio.Semaphore(PARSE_THREADS))
    async with slots:
        future: asyncio.Future[_R] = loop.create_future()

        def settle(result: _R | None, error: BaseException | None) -> None:
            if future.done():
                return  # cancelled by a stop while the thread ran
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(typing.cast(_R, result))

        def work() -> None:
            result, error = None, None
            try:
                result = func(arg)
            except BaseException as exc:  # handed to the awaiting task, which decides
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle, result, error)

        threading.Thread(target=work, name="status_tracker parse", daemon=True).start()
        return await future


async def _wait_either(first: asyncio.Event, second: asyncio.Event) -> None:
    """Until either event is set."""
    waiters = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _wait_event_or(event: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Until `event` or `stop` is set, or `seconds` pass."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_wait_either(event, stop), seconds)


async def _sleep_until(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)


def _http_date(value: str) -> datetime | None:
    """An HTTP date in any of RFC 9110 5.6.7's three forms, in UTC; None when unreadable."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # asctime and RFC 850 dates carry no zone, and HTTP dates are always GMT.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _http_date_delay(value: str, now: datetime) -> float | None:
    when = _http_date(value)
    if when is None:
        return None
    try:
        return max(0.0, (when - now).total_seconds())
    except OverflowError:
        return None


_ASCII_DIGITS = re.compile(r"[0-9]{1,12}")  # str.isdigit accepts "²", which float() refuses


def _seconds(value: str) -> float | None:
    value = value.strip()
    return float(value) if _ASCII_DIGITS.fullmatch(value) else None


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds, from delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    seconds = _seconds(value)
    return seconds if seconds is not None else _http_date_delay(value, now)


_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?([0-9]{1,12})(?![0-9])")


def freshness_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """How long the response stays fresh: max-age minus Age, else Expires (RFC 9111 4.2.1)."""
    cache_control = headers.get("Cache-Control", "").lower()
    if "no-store" in cache_control or "no-cache" in cache_control:
        return None
    if match := _MAX_AGE.search(cache_control):
        return max(0.0, float(match[1]) - (_seconds(headers.get("Age", "")) or 0.0))
    if expires := headers.get("Expires"):
        # Expires is read against the server's own clock (its Date), so skew does not matter.
        base = _http_date(headers.get("Date", "")) or now
        return _http_date_delay(expires, base)
    return None


_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]{1,1024}")


def _validator(value: str | None) -> str | None:
    """A validator fit to send back; RFC 9110 allows obs-text (bytes >= 0x80) in one, but it
    reaches us decoded and would not be sent back byte for byte, so the feed is then polled
    without it."""
    return value if value is not None and _PRINTABLE_ASCII.fullmatch(value) else None


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 4x, on every poll
class FetchResult:
    status: int
    body: bytes | None
    etag: str | None
    last_modified: str | None
    fresh_for: float | None
    moved_to: str | None  # the new URL after a permanent redirect
    received: int = 0  # bytes of the body as it came (after decompression, before decoding)


class HostLimiter:
    """At most `per_host` requests in flight per host, taken before the request is made.

    aiohttp counts the wait for a pooled connection against the request's timeouts, so the
    limit is enforced here, not in the connector.
    """

    def __init__(self, per_host: int = DEFAULT_PER_HOST) -> None:
        self.per_host = per_host
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._by_url: dict[str, asyncio.Semaphore] = {}  # urlsplit costs more than the rest

    def __call__(self, url: str) -> asyncio.Semaphore:
        found = self._by_url.get(url)
        if found is None:
            host = urllib.parse.urlsplit(url).netloc.lower()
            found = self._semaphores.setdefault(host, asyncio.Semaphore(self.per_host))
            if len(self._by_url) < 100_000:  # URLs come from the feed list and redirects
                self._by_url[url] = found
        return found


_HTML_START = re.compile(rb"\s*<(?:!doctype html|html)", re.I)


def _looks_like_html(content_type: str, body: bytes) -> bool:
    # Matched in place within the first KB: every 200 of a quiet feed passes through here.
    return "html" in content_type.lower() or _HTML_START.match(body, 0, 1024) is not None


class Validated(typing.Protocol):
    """Whatever keeps a resource's validators: a feed's state, an API source."""

    @property
    def etag(self) -> str | None: ...

    @property
    def last_modified(self) -> str | None: ...


async def fetch(
    session: aiohttp.ClientSession,
    url: str | yarl.URL,
    state: Validated,
    *,
    now: datetime,
    max_body: int = MAX_BODY,
    timeout: aiohttp.ClientTimeout = TIMEOUT,
    base_headers: Mapping[str, str] = REQUEST_HEADERS,
    check_body: Callable[[str, bytes], None] | None = None,
    proxy: str | None = None,
) -> FetchResult:
    """One conditional GET (through `proxy`, if one is given); raise FeedError with a one-line
    reason on any failure."""
    headers = dict(base_headers)
    # Validators are opaque: sent back exactly as received, quotes and W/ included.
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    try:
        async with session.get(url, headers=headers, timeout=timeout, allow_redirects=True,
                               proxy=proxy) as resp:
            body: bytes | None = None
            received = 0
            if resp.status == 200:
                body = await _read_capped(resp, max_body)
                content_type = resp.headers.get("Content-Type", "")
                received = len(body)
                body = as_utf8(body, content_type)
                (check_body or _check_feed_body)(content_type, body[:4096])
            else:
                await _check_not_modified(resp, conditional=len(headers) > len(base_headers),
                                          proxy=proxy, now=now)
            permanent = resp.history and all(r.status in (301, 308) for r in resp.history)
            return FetchResult(resp.status, body, _validator(resp.headers.get("ETag")),
                               _validator(resp.headers.get("Last-Modified")),
                               freshness_seconds(resp.headers, now),
                               str(resp.url) if permanent else None, received)
    except FeedError:
        raise
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise FeedError(connection_words(exc, proxy)) from None


async def _read_capped(resp: aiohttp.ClientResponse, max_body: int) -> bytes:
    """The body, never more than `max_body` bytes of it after decompression."""
    length = resp.content_length
    if length is not None and length <= max_body and not resp.headers.get("Content-Encoding"):
        return await resp.read()  # sent as it is and sized within the cap: nothing to inflate
    # Compressed or unsized: read in chunks, counting after decompression, so that 50 KB of
    # gzip cannot become 50 MB in memory.
    data = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        data.extend(chunk)
        if len(data) > max_body:
            raise FeedError(f"response larger than {max_body // (1024 * 1024)} MiB; abandoned")
    return bytes(data)


async def _check_not_modified(resp: aiohttp.ClientResponse, *, conditional: bool,
                              proxy: str | None, now: datetime) -> None:
    """Return for a 304 to a conditional request; raise FeedError for any other answer."""
    if resp.status == 304:
        if not conditional:
            # Nothing to be "not modified" against: taken as a read, it would hide the feed
            # for as long as the server keeps answering so.
            raise FeedError("server answered 304 to an unconditional request")
        return
    if resp.status == 407 and proxy is not None:
        raise FeedError(f"proxy {public_proxy(proxy)} refused the request: HTTP 407 (proxy "
                        "authentication required; check the user and password in the proxy "
                        "URL)")
    # Only the start of an error page is looked at: never download all of it.
    head = await resp.content.read(4096)
    try:
        _raise_for_status(resp.status, resp.headers, head, now)
    except FeedError as exc:
        if proxy is None:
            raise
        # Some proxies refuse with 401 or 403, not 407: which one answered cannot be told,
        # so the proxy is named beside the status.
        exc.args = (f"{exc} (through proxy {public_proxy(proxy)})",)
        raise


def connection_words(exc: BaseException, proxy: str | None = None) -> str:
    """Why a request failed, in one line of words ("cannot connect to 127.0.0.1 port 9:
    connection refused"), never an exception's class name; a proxy that failed is named as
    the proxy (scheme, host and port), not mistaken for the server behind it."""
    via = public_proxy(proxy) if proxy else ""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientProxyConnectionError) or (
            via and isinstance(exc, aiohttp.ClientConnectorError)
            and (exc.host, exc.port) == _host_port(proxy or "")):
        return f"cannot connect to proxy {via}: {_os_error_words(exc.os_error)}"
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        reason = f" ({clean_text(exc.message).lower()})" if exc.message else ""
        return f"proxy {via or 'in use'} refused the connection: HTTP {exc.status}{reason}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return (f"cannot resolve host {clean_text(exc.host)}: DNS lookup failed "
                f"({clean_text(str(exc.os_error.strerror or exc.os_error))}); "
                "is the network down, or the host name wrong?")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {clean_text(exc.host)} port {exc.port}: " + (
            _os_error_words(exc.os_error))
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid URL (in a redirect or the feed list)"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    if isinstance(exc, OSError) and not isinstance(exc, aiohttp.ClientError):
        return _os_error_words(exc)
    detail = clean_text(redact_urls_in(str(exc)))[:160]
    return f"connection failed: {detail}" if detail else (
        f"connection failed ({type(exc).__name__})")


def _host_port(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def public_proxy(url: str) -> str:
    """A proxy as logs may show it: scheme, host and port; never its user and password."""
    try:
        host, port = _host_port(url)
        scheme = urllib.parse.urlsplit(url).scheme
    except ValueError:
        return "(an unreadable proxy URL)"
    return clean_text(f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}")


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def bypasses(no_proxy: str, host: str, port: int | None) -> bool:
    """Whether no_proxy sends a request to `host` direct, as curl reads it: "*" for every
    host; a name for itself and every host under it (a leading dot changes nothing); an
    address, or a network in CIDR form; any of them with ":PORT" for that port only."""
    host = host.lower().rstrip(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = (
            ipaddress.ip_address(host))
    except ValueError:
        address = None
    for item in no_proxy.replace(" ", ",").split(","):
        entry = item.strip().lower()
        if entry == "*":
            return True
        if entry.startswith("["):  # [::1]:443
            entry, _, wanted = entry[1:].partition("]")
            wanted = wanted.removeprefix(":")
        elif entry.count(":") == 1:  # host:port (an IPv6 address has more colons)
            entry, _, wanted = entry.partition(":")
        else:
            wanted = ""
        entry = entry.strip(".")
        if not entry or (wanted and (not wanted.isdigit() or wanted != str(port))):
            continue
        if address is not None:
            with contextlib.suppress(ValueError):
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
        if host == entry or host.endswith("." + entry):
            return True
    return False


def proxy_url(value: str, where: str) -> str:
    """A proxy URL as given; one without a scheme is taken as http:// (as curl and pip do).
    The ValueError names `where` and never repeats the value: it may hold a password."""
    text = value.strip()
    if "://" not in text:
        text = "http://" + text
    named = f"{where}: " if where else ""
    if text.lower().startswith("socks"):
        raise ValueError(f"{named}a SOCKS proxy, which this tracker cannot use: give an "
                         "http:// proxy (--proxy, or HTTPS_PROXY and HTTP_PROXY)")
    try:
        check_url(text)
    except ValueError as exc:
        raise ValueError(f"{named}{exc} (the value is not shown: it may hold a password)"
                         ) from None
    return text


class Proxies:
    """Which proxy each request goes through: the one given (--proxy, `proxy` in the config)
    for every request, else the standard environment variables as curl and pip read them
    (http_proxy, https_proxy, all_proxy, no_proxy; lower case first, then upper case), with
    no_proxy's hosts and domains reached directly."""

    def __init__(self, explicit: str | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._by_scheme: dict[str, str] = {}
        self._no = ""
        self._cache: dict[tuple[str, str], str | None] = {}
        self.source = "--proxy or the config's proxy"
        if explicit:
            self._by_scheme = {"http": explicit, "https": explicit}
            return
        found: dict[str, tuple[str, str]] = {}
        for name in PROXY_VARIABLES:
            for spelled in (name, name.upper()):
                if env.get(spelled):
                    found[name] = (spelled, env[spelled])
                    break
        if "no_proxy" in found:
            self._no = found.pop("no_proxy")[1]
        for scheme in ("http", "https"):
            spelled, value = found.get(f"{scheme}_proxy") or found.get("all_proxy") or ("", "")
            if value:
                self._by_scheme[scheme] = proxy_url(value, spelled)
        self.source = ", ".join(spelled for spelled, _ in found.values())

    def __bool__(self) -> bool:
        return bool(self._by_scheme)

    def for_url(self, url: str) -> str | None:
        """The proxy for a request to `url`, or None to go direct."""
        if not self._by_scheme:
            return None
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme.lower(), parts.netloc.lower())
        if key not in self._cache:
            proxy = self._by_scheme.get(key[0])
            port = parts.port or (443 if key[0] == "https" else 80)
            if proxy and self._no and bypasses(self._no, parts.hostname or "", port):
                proxy = None
            if len(self._cache) < 100_000:  # hosts come from the feed list and redirects
                self._cache[key] = proxy
            return proxy
        return self._cache[key]

    def describe(self) -> str:
        """For the startup line: where requests go, never a password."""
        shown = sorted({public_proxy(p) for p in self._by_scheme.values()})
        bypass = f"; direct for {clean_text(self._no)[:100]}" if self._no else ""
        return f"through proxy {', '.join(shown)} (from {self.source}){bypass}"


def check_url(url: str) -> str:
    """An http(s) URL with a host and a valid port. The ValueError never repeats the URL:
    its path or query may hold a secret."""
    if not url or any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError("not a valid URL: it contains spaces or control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        port, host = parts.port, parts.hostname
    except ValueError:
        raise ValueError("not a valid URL: bad port or brackets") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("not an http(s) URL")
    if not host:
        raise ValueError("not an http(s) URL: it has no host")
    if port == 0:
        raise ValueError("not a valid URL: port 0")
    try:
        host.encode("idna")
    except UnicodeError:
        raise ValueError("not a valid URL: bad host name") from None
    return url


def url_identity(url: str) -> tuple[str, str, int, str]:
    """What makes two spellings of a URL the same resource (case of host, default port)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    rest = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return scheme, (parts.hostname or "").lower(), port, rest


def user_agent(contact: str | None = None) -> str:
    """Product and version (RFC 9110 10.1.5), and a way to reach the operator only when one
    was given: a made-up contact would send a page's admins to the wrong place."""
    product = f"status_tracker/{__version__}"
    return f"{product} (+{contact})" if contact else product


def new_session(contact: str | None, connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
    """The one HTTP session of a run: every request, feed, API or webhook, carries its
    User-Agent, and no cookie is kept (a tracking cookie must not follow us between pages)."""
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                 headers={"User-Agent": user_agent(contact)})


def _os_error_words(error: OSError) -> str:
    """"connection refused", not "[Errno 111] Connect call failed ('127.0.0.1', 9)"; a TLS
    failure by its reason (its errno is OpenSSL's, not the system's: 1 is not EPERM)."""
    if verify := getattr(error, "verify_message", None):  # ssl.SSLCertVerificationError
        return f"TLS certificate not trusted: {clean_text(str(verify))}"
    if getattr(error, "library", None) is not None or type(error).__name__.startswith("SSL"):
        reason = str(getattr(error, "reason", None) or "").replace("_", " ").lower()
        return f"TLS handshake failed: {clean_text(reason) or 'no reason given'}"
    if error.errno:
        return os.strerror(error.errno).lower()
    return clean_text(str(error)) or type(error).__name__


def _raise_for_status(status: int, headers: Mapping[str, str], head: bytes,
                      now: datetime) -> typing.NoReturn:
    """The one-line reason for a response that is neither 200 nor 304."""
    if status == 410:
        raise FeedError("gone (HTTP 410): the feed was removed; polling stopped", gone=True)
    retry_after = retry_after_seconds(headers.get("Retry-After"), now)
    content_type = headers.get("Content-Type", "")
    if status in (403, 429, 503) and (
        headers.get("cf-mitigated", "").lower() == "challenge" or _looks_like_html(content_type,
                                                                                   head)
    ):
        raise FeedError(f"blocked by bot protection (HTTP {status})", retry_after=retry_after)
    if status >= 400:
        raise FeedError(f"HTTP {status}", retry_after=retry_after if status in (429, 503) else None,
                        missing=status == 404)
    raise FeedError(f"unexpected HTTP {status}")


def _check_feed_body(content_type: str, head: bytes) -> None:
    """A 200 must carry a feed: an empty body or an HTML page is an error, not "all clear"."""
    if not head or head.isspace():
        raise FeedError("empty response")
    if _looks_like_html(content_type, head) and b"<rss" not in head and b"<feed" not in head:
        raise FeedError("not a feed: got an HTML page", html=True)


def _check_json_body(content_type: str, head: bytes) -> None:
    if not head.strip():
        raise FeedError("empty response")
    if _looks_like_html(content_type, head):
        raise FeedError("got an HTML page, not JSON")


def _api_label(url: str) -> str:
    """Host and document only ("https://www.githubstatus.com/…/incidents.json")."""
    return f"{redact_url(url)}/{clean_text(url.rsplit('/', 1)[-1])}"


@dataclass(slots=True)
class ApiSource:
    """One API document: its validators and what was last read from it."""

    url: str
    key: str  # the list in the body: "incidents" or "scheduled_maintenances"
    etag: str | None = None
    last_modified: str | None = None
    data: dict[str, ApiIncident] | None = None
    failing: str | None = None  # why the last read failed; said once
    retry_at: float = 0.0  # while failing: not asked again before this


class StatuspageApi:
    """A Statuspage page's JSON API beside its feed: read only when the feed changed (and
    maintenances at most every 10 minutes otherwise), conditionally, through the same
    per-host limit. When it fails, enrichment is off for `retry` seconds, said once for the
    whole API; the feed's events go out without it, never held back."""

    def __init__(self, base: str, feed: str, *, retry: float = API_RETRY,
                 proxies: Proxies | None = None) -> None:
        self.base = base
        self.feed = feed
        self.proxies = proxies or Proxies(environ={})
        self.incidents = ApiSource(f"{base}/api/v2/incidents.json", "incidents")
        self.maintenances = ApiSource(f"{base}/api/v2/scheduled-maintenances.json",
                                      "scheduled_maintenances")
        self.requests = 0
        self.retry = retry
        # Said once for the whole API while either list fails, whatever the reason.
        self.trouble = Trouble()

    def retry_due(self, clock: float) -> list[ApiSource]:
        """The failing sources that may be asked again now: a quiet feed asks them anyway,
        so that enrichment is back before the next event needs it."""
        return [s for s in (self.incidents, self.maintenances)
                if s.failing is not None and clock >= s.retry_at]

    async def read(self, source: ApiSource, session: aiohttp.ClientSession,
                   limiter: HostLimiter, *, now: datetime, clock: float
                   ) -> dict[str, ApiIncident] | None:
        """The source's items (from a 200, or the last ones on a 304); None when it cannot be
        used now. Each source fails on its own: a missing maintenance list leaves the
        incidents' components alone."""
        if source.failing is not None and clock < source.retry_at:
            return None
        self.requests += 1
        try:
            async with limiter(source.url):
                result = await fetch(session, source.url, source, now=now,
                                     max_body=MAX_API_BODY, timeout=API_TIMEOUT,
                                     base_headers=API_HEADERS, check_body=_check_json_body,
                                     proxy=self.proxies.for_url(source.url))
            if result.body is not None:
                body, key = result.body, source.key
                source.data = (await in_daemon_thread(lambda b: read_api_list(b, key), body)
                               if len(body) > INLINE_PARSE_LIMIT else read_api_list(body, key))
            elif source.data is None:
                raise FeedError("answered 304 before anything was read")
            source.etag = result.etag or source.etag
            source.last_modified = result.last_modified or source.last_modified
        except Exception as exc:  # whatever the API does, the feed's events still go out
            reason = str(exc) if isinstance(exc, FeedError | ApiShapeError) else (
                exception_words(exc, 160))
            self.trouble.fail("the API", "%s: status API %s: %s; events go out from the feed "
                              "alone until it works again", self.feed, _api_label(source.url),
                              reason)
            log.debug("status API traceback", exc_info=exc)
            source.failing, source.retry_at = reason, clock + self.retry
            return None
        source.failing = None
        if self.incidents.failing is None and self.maintenances.failing is None:
            self.trouble.recover("%s: status API %s works again", self.feed,
                                 redact_url(source.url))
        return source.data


class ParseMeter:
    """Seconds spent parsing feeds, as the monitors report them. The scheduler paces first
    reads by it: they all parse, and the cold start of a large fleet would otherwise hold
    the loop while the polls of feeds already read fall behind."""

    def __init__(self) -> None:
        self.spent = 0.0
        self.parses = 0

    def add(self, seconds: float) -> None:
        self.spent += seconds
        self.parses += 1

    @property
    def average(self) -> float:
        """Seconds one parse takes, PARSE_GUESS until one has been measured."""
        return self.spent / self.parses if self.parses and self.spent else PARSE_GUESS


def read_page(body: bytes, source: str, now: datetime) -> PageDoc:
    """A feed or a platform's JSON document, whichever the body is."""
    if looks_like_json(body):
        return read_document(body, source, now)
    return PageDoc("feed", parse_feed(body))


def timed_read(job: tuple[bytes, str, datetime]) -> tuple[PageDoc, float]:
    """read_page and the CPU it took in this thread."""
    started = time.thread_time()
    doc = read_page(*job)
    return doc, time.thread_time() - started


# One generator for every monitor's jitter and backoff that is not given its own: a Random
# holds 2.5 KB of state, and jitter needs no stream per feed.
_SHARED_RNG = random.Random()


@dataclass(slots=True)
class Shared:
    """What the pipelines of all feeds in one run share: the HTTP session, its per-host limit
    and proxies, the clock, the random numbers for jitter and backoff, the parse meter, and
    the limits of one feed request."""

    session: aiohttp.ClientSession
    clock: Clock = field(default_factory=Clock)
    limiter: HostLimiter = field(default_factory=HostLimiter)
    proxies: Proxies = field(default_factory=lambda: Proxies(environ={}))
    rng: random.Random = field(default_factory=lambda: _SHARED_RNG)
    meter: ParseMeter = field(default_factory=ParseMeter)
    max_body: int = MAX_BODY
    timeout: aiohttp.ClientTimeout = TIMEOUT


# #### I/O edge: discovery (a status page's own address) ##########################################


# Signs in a page's HTML of the platform that serves it: script hosts, links to the platform,
# its "powered by" line. Status.io's also carry the page's id in their feed and API paths.
_PLATFORM_MARKERS = (
    (Platform.STATUSPAGE, re.compile(rb"statuspage\.io|stspg|cdn\.statuspage", re.I)),
    (Platform.INCIDENT_IO, re.compile(rb"incident\.io|incidentio", re.I)),
    (Platform.INSTATUS, re.compile(rb"instatus\.com|instatus", re.I)),
    (Platform.BETTER_STACK, re.compile(rb"betterstack\.com|betteruptime\.com|better stack",
                                       re.I)),
    (Platform.STATUS_IO, re.compile(rb"status\.io/|hostedstatus\.com|/pages/[0-9a-f]{24}/",
                                    re.I)),
    (Platform.SORRY, re.compile(rb"sorryapp\.com", re.I)),
    (Platform.CACHET, re.compile(rb"cachethq|powered by cachet", re.I)),
)
_STATUS_IO_ID = re.compile(rb"/pages/([0-9a-f]{24})/")
# Where each platform keeps what the tracker polls, relative to the page.
_PLATFORM_PATHS = {
    Platform.STATUSPAGE: ("history.atom",), Platform.INCIDENT_IO: ("feed.atom",),
    Platform.INSTATUS: ("summary.json",), Platform.BETTER_STACK: ("index.json",),
    Platform.SORRY: ("api/v1/notices",), Platform.CACHET: ("api/v1/incidents",)}
_ANY_PLATFORM = ("history.atom", "feed.atom", "index.json", "summary.json")


class _PageLinks(html.parser.HTMLParser):
    """A page's <title> and its <link rel="alternate"> feeds."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.feeds: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        alternate = "alternate" in values.get("rel", "").lower().split()
        if tag == "link" and alternate and values.get("href") and any(
                kind in values.get("type", "") for kind in ("atom", "rss")):
            self.feeds.append(values["href"])
        self._in_title = tag == "title"

    def handle_data(self, data: str) -> None:
        if self._in_title and not self.title:
            self.title = clean_text(data)[:MAX_TITLE]

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False


@dataclass(frozen=True, slots=True)
class Discovery:
    """What a look at a page found, and how: for --discover and the one line a watch says."""

    page: str
    found: Found
    title: str = ""
    how: str = ""

    def line(self, name: str) -> str:
        """"GitHub: Atlassian Statuspage; feed /history.atom; components from /api/v2/"."""
        found = self.found
        label = Platform(found.platform).label if found.platform in tuple(Platform) else (
            found.platform)
        kind = "JSON" if found.url.endswith(".json") or "/api/" in found.url else "feed"
        said = f"{name}: {label}; {kind} {_short(found.url)}"
        if found.components:
            said += f"; components from {_short(found.components)}"
        return said


def _short(url: str) -> str:
    """The path of a URL where the host is the page's own, as a line about it reads best."""
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "") or "/"


def _page_name(title: str, host: str) -> str:
    """A feed name from a page's <title> ("GitHub Status" -> "GitHub"), else its host."""
    name = re.sub(r"(?i)[\s|:·-]*(?:status(?: page)?|system status|service status)\s*$", "",
                  title).strip(" -|:·")
    return feed_name(name or host)


async def _try_source(shared: Shared, url: str, now: datetime, *,
                      max_body: int | None = None) -> PageDoc | None:
    """A candidate feed or document: read, or None when it is not one (or not now)."""
    try:
        async with shared.limiter(url):
            result = await fetch(shared.session, url, FeedState(), now=now,
                                 max_body=max_body or shared.max_body, timeout=API_TIMEOUT,
                                 proxy=shared.proxies.for_url(url))
        return read_page(result.body or b"", url, now)
    except (FeedError, ApiShapeError):
        return None


def _platform_of(doc: PageDoc, url: str, marked: Platform | None) -> Platform:
    if doc.platform != "feed":
        return Platform(doc.platform) if doc.platform in tuple(Platform) else Platform.FEED
    if any(i.code for i in doc.incidents) or (marked is Platform.STATUSPAGE
                                             and api_base(url) is not None):
        return Platform.STATUSPAGE
    if marked is not None:
        return marked
    return Platform.STATUSPAGE if url.endswith(("/history.atom", "/history.rss")) and any(
        i.code for i in doc.incidents) else Platform.FEED


def _found(platform: Platform, url: str, page: str, page_id: str | None) -> Found:
    """Where the platform keeps the API and the component list of a page whose polled
    document is `url`."""
    api = api_base(url) if platform is Platform.STATUSPAGE else None
    components = None
    if api is not None:
        components = f"{api}/api/v2/summary.json"
    elif platform is Platform.INCIDENT_IO:
        components = urllib.parse.urljoin(page, "api/v2/summary.json")
    elif platform is Platform.STATUS_IO and page_id:
        components = urllib.parse.urljoin(page, f"1.0/status/{page_id}")
    elif path := _COMPONENTS_AT.get(platform):
        components = urllib.parse.urljoin(page, path)
    return Found(str(platform), url, api, components)


async def discover(shared: Shared, url: str, now: datetime) -> Discovery:
    """Look at a status page's address: its alternate links, the platform its HTML names
    and that platform's own paths, tried in that order; FeedError when none is a feed or a
    document of a known platform."""
    async with shared.limiter(url):
        result = await fetch(shared.session, url, FeedState(), now=now,
                             max_body=MAX_PAGE_BODY, timeout=API_TIMEOUT,
                             check_body=lambda _type, head: None,
                             proxy=shared.proxies.for_url(url))
    body = result.body or b""
    page = urllib.parse.urljoin(url, "./")  # "https://host" is the page "https://host/"
    if not _looks_like_html("", body[:1024]) and (doc := _try_read(body, url, now)):
        return Discovery(url, _found(_platform_of(doc, url, None), url, page, None),
                         how="the address is itself a feed or a page's document")
    links = _PageLinks()
    with contextlib.suppress(Exception):  # a broken page still has its markers
        links.feed(body.decode("utf-8", "replace"))
    marked = next((p for p, marker in _PLATFORM_MARKERS if marker.search(body)), None)
    page_id = m[1].decode() if (m := _STATUS_IO_ID.search(body)) else None
    candidates = [(urllib.parse.urljoin(url, href), "the page's alternate link")
                  for href in links.feeds]
    if marked is Platform.STATUS_IO and page_id:
        candidates.append((urllib.parse.urljoin(page, f"pages/{page_id}/rss"),
                           "Status.io's feed for the page's id"))
    for path in _PLATFORM_PATHS.get(marked, ()) if marked else _ANY_PLATFORM:
        candidates.append((urllib.parse.urljoin(page, path),
                           f"{marked.label}'s own path" if marked else "a platform's path"))
    tried: dict[str, str] = {}  # each address once, with the first reason to try it
    for candidate, how in candidates:
        tried.setdefault(candidate, how)
    for candidate, how in tried.items():
        doc = await _try_source(shared, candidate, now)
        if doc is not None:
            platform = _platform_of(doc, candidate, marked)
            return Discovery(url, _found(platform, candidate, page, page_id), links.title, how)
    looked = ", ".join(map(_short, tried)) or "nothing to try"
    raise FeedError(f"not a feed: got an HTML page, and no feed was found on it (tried "
                    f"{looked})")


async def find_feed(shared: Shared, configured: str, now: datetime) -> Discovery:
    """Discovery from a watched address that answered a web page: the page as configured,
    then its site's root (a feed's old address may answer a page of no use)."""
    try:
        return await discover(shared, configured, now)
    except FeedError as first:
        root = urllib.parse.urljoin(configured, "/")  # with its credentials, if any
        if root == configured:
            raise
        try:
            return await discover(shared, root, now)
        except FeedError:
            raise first from None


async def component_list(shared: Shared, where: str, now: datetime) -> list[Component] | None:
    """A page's component list, or None when it cannot be read now."""
    doc = await _try_source(shared, where, now, max_body=MAX_API_BODY)
    return doc.components if doc is not None else None


def _try_read(body: bytes, url: str, now: datetime) -> PageDoc | None:
    try:
        return read_page(body, url, now)
    except FeedError:
        return None


# #### I/O edge: the state file ####################################################################


def _feed_to_json(state: FeedState) -> dict[str, Any]:
    # Each incident is a compact list [updated, digest, steps, last_seen] with times in epoch
    # seconds: the incidents remembered are most of the file.
    data: dict[str, Any] = {
        "etag": state.etag, "last_modified": state.last_modified,
        "fingerprint": state.fingerprint, "entries": state.entries,
        "incidents": {key: [s.updated_epoch(), *s.digest_and_steps(), _epoch(s.last_seen)]
                      for key, s in state.known.items()},
    }
    # Written only when set, so a healthy feed's entry stays as it always was.
    if state.failures:
        data["failures"] = state.failures
    if state.down:
        data["down"] = True
    if state.first_sight:
        data["first_sight"] = True  # failed from the start: never read, no baseline yet
    if state.statuspage:
        data["statuspage"] = True
    if state.open_incidents:
        data["open"] = state.open_incidents
    if state.maintenances_tried is not None:
        data["maintenances_tried"] = _epoch(state.maintenances_tried)
    if state.maintenances is not None:
        data["maintenances"] = {code: [phase.key, _epoch(seen)]
                                for code, (phase, seen) in state.maintenances.items()}
    if state.found is not None:
        data["found"] = state.found.to_json()
    return data


def _feed_from_json(data: Mapping[str, Any], times: dict[float, datetime], now: datetime
                    ) -> FeedState:
    """One feed of the state file; `times` shares equal datetimes (most incidents of a feed
    were last seen by the same poll) so that a large file loads small. An incident
    or window without a "last seen" time counts as seen `now`."""

    def when(value: object) -> datetime | None:
        if not isinstance(value, int | float) or value not in times:
            moment = _from_epoch(value)
            if moment is None:
                return None
            times[moment.timestamp()] = moment
            return moment
        return times[value]

    known = {}
    for key, (updated, digest, steps, last_seen) in data["incidents"].items():
        known[key] = Seen(when(updated), str(digest), tuple(map(str, steps)),
                          when(last_seen) or now)
    failures = data.get("failures", 0)
    if not isinstance(failures, int) or isinstance(failures, bool) or failures < 0:
        raise ValueError(f"bad failure count {failures!r}")
    maintenances = None
    if "maintenances" in data:
        maintenances = {}
        for code, (phase, seen) in data["maintenances"].items():
            if phase not in _PHASE_KEYS:
                raise ValueError(f"bad maintenance phase {phase!r}")
            maintenances[str(code)] = (_PHASE_KEYS[phase], when(seen) or now)
    return FeedState(etag=_validator(data.get("etag")),
                     last_modified=_validator(data.get("last_modified")),
                     fingerprint=data.get("fingerprint"), entries=int(data.get("entries", 0)),
                     known=known, first_sight=data.get("first_sight") is True,
                     failures=failures, down=data.get("down") is True,
                     maintenances=maintenances, statuspage=data.get("statuspage") is True,
                     open_incidents=int(data.get("open", 0)),
                     maintenances_tried=_from_epoch(data.get("maintenances_tried")),
                     found=Found.from_json(data["found"]) if "found" in data else None)


_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_json_value = json.JSONDecoder().raw_decode


# What may go on a number: one cut short by the end of the text read so far decodes as a
# shorter number ("123" of "12345", "1" of "1.5") unless a character follows it that ends it.
_NUMBER_GOES_ON = frozenset("0123456789.eE+-")


class _Window:
    """The text of a file read a chunk at a time, addressed by offsets from the start of the file.

    Each step (whitespace, a character, a string, a value) keeps the text from where it began:
    one that runs into the end of what was read reads the next chunk and starts again, and what
    lies before it is dropped then, so one copy of a short remainder is made per chunk, never
    one per step. At the end of the file, a step's error stands, with the file's offset, line
    and column, as json.loads would give them.
    """

    def __init__(self, read: Callable[[int], bytes], first: bytes = b"",
                 chunk: int = STATE_CHUNK) -> None:
        self._read = read
        self._chunk = chunk
        self._decode = codecs.getincrementaldecoder("utf-8")().decode
        self.text = ""
        self.base = 0  # offset in the file of text[0]
        self.ended = False
        # Every byte read so far is ASCII (so character offsets are byte offsets), and every
        # byte read so far is whitespace (bytes.strip's, as an empty file was always told).
        self.ascii = True
        self.blank = True
        # Newlines dropped with the text before base: how many, and the offset of the last.
        self._lines = 0
        self._last_newline = -1
        self._take(first, self.base, final=False)

    def _take(self, data: bytes, keep: int, *, final: bool) -> None:
        self.ascii = self.ascii and data.isascii()
        self.blank = self.blank and not data.strip()
        cut = keep - self.base
        if cut:
            dropped = self.text.count("\n", 0, cut)
            if dropped:
                self._lines += dropped
                self._last_newline = self.base + self.text.rfind("\n", 0, cut)
        self.text = self.text[cut:] + self._decode(data, final=final)
        self.base = keep

    def more(self, keep: int) -> bool:
        """Read on, dropping the text before offset `keep`; False at the end of the file."""
        if self.ended:
            return False
        # At least as much as is kept: a step longer than a chunk (a large outbox, or a syntax
        # error, which the end of the file alone tells from a cut) is then decoded again a
        # logarithmic number of times, not once per chunk.
        data = self._read(max(self._chunk, len(self.text) - (keep - self.base)))
        self.ended = not data
        self._take(data, keep, final=self.ended)  # a character cut by the end is an error
        return not self.ended

    def only_space(self) -> bool:
        """Whether the file holds nothing but whitespace."""
        while self.blank and self.more(self.base):
            pass
        return self.blank

    def space(self, i: int) -> int:
        """The offset of the first character from `i` on that is not whitespace."""
        while True:
            match = _JSON_SPACE.match(self.text, i - self.base)
            i = match.end() + self.base if match else i
            if i < self.base + len(self.text) or not self.more(i):
                return i

    def char(self, i: int) -> str:
        """The character at offset `i`; "" past the end of the file."""
        while i - self.base >= len(self.text) and self.more(i):
            pass
        return self.text[i - self.base:i - self.base + 1]

    def string(self, i: int) -> tuple[str, int]:
        """The string whose opening quote is at offset `i`, and the offset after it."""
        while True:
            base = self.base  # of the text the error's offset is in: more() moves it
            try:
                name, end = json.decoder.scanstring(  # type: ignore[attr-defined]
                    self.text, i + 1 - base)
            except json.JSONDecodeError as exc:
                if self.more(i):
                    continue
                raise self.error(exc.msg, exc.pos + base) from None
            return name, end + base

    def value(self, i: int) -> tuple[Any, int]:
        """The JSON value at offset `i`, and the offset after it."""
        while True:
            base = self.base
            try:
                value, end = _json_value(self.text, i - base)
            except json.JSONDecodeError as exc:
                if self.more(i):
                    continue
                raise self.error(exc.msg, exc.pos + base) from None
            after = self.text[end:end + 1]
            if (not after or after in _NUMBER_GOES_ON) and self.more(i):
                continue
            return value, end + base

    def expect(self, i: int, char: str, what: str) -> int:
        """The offset after `char`, the next character from `i` that is not whitespace;
        json.loads's error ("Expecting …") when it is another."""
        i = self.space(i)
        if self.char(i) != char:
            raise self.error(f"Expecting {what}", i)
        return i + 1

    def key(self, i: int) -> tuple[str, int]:
        """A member's name from offset `i` on, and the offset of its value."""
        start = self.expect(i, '"', "property name enclosed in double quotes")
        name, i = self.string(start - 1)
        return name, self.space(self.expect(i, ":", "':' delimiter"))

    def error(self, msg: str, pos: int) -> json.JSONDecodeError:
        """json.loads's error at offset `pos` of the file, with the file's line and column.

        Its `doc` is the text kept when it was raised, not the file, which is never whole.
        """
        at = pos - self.base
        newline = self.text.rfind("\n", 0, at)
        lineno = self._lines + self.text.count("\n", 0, at) + 1
        colno = pos - (self.base + newline if newline >= 0 else self._last_newline)
        exc = json.JSONDecodeError(msg, self.text, at)
        exc.pos, exc.lineno, exc.colno = pos, lineno, colno
        exc.args = (f"{msg}: line {lineno} column {colno} (char {pos})",)
        return exc


class NewerStateError(ValueError):
    """A state file of a format newer than this program's."""


def _read_state(window: _Window, read_feed: Callable[[Any], FeedState],
                spans: dict[str, Span] | None = None
                ) -> tuple[dict[str, Any], dict[str, FeedState] | None]:
    """The state file's JSON, as json.loads reads it, but each member of "feeds" is made
    into its FeedState as soon as it is decoded (None when "feeds" is not an object).

    No tree of the whole file is ever built (it would be twice the size of what is kept from
    it), and the file is read through a window. The version is checked first (it
    leads every file of ours), so a newer file is refused before its feeds are read. `spans`
    gets where each member ("url":{…}) sits in the file, when every byte of the file is ASCII
    (otherwise character offsets are not byte offsets, and it is left empty).
    """
    data: dict[str, Any] = {}
    feeds: dict[str, FeedState] | None = None
    i = window.space(window.expect(0, "{", "value"))
    more = window.char(i) != "}"
    i += 0 if more else 1
    while more:
        name, i = window.key(i)
        if name == "feeds" and window.char(i) == "{":
            feeds, i = _read_members(window, i + 1, read_feed, spans)
            data[name] = None
        else:
            data[name], i = window.value(i)
            if name == "feeds":
                feeds = None
        _check_version(data)
        i = window.space(i)
        more = window.char(i) == ","
        i = i + 1 if more else window.expect(i, "}", "',' delimiter")
    if not data:
        raise ValueError("not a status_tracker state file")
    i = window.space(i)
    if window.char(i):
        raise window.error("Extra data", i)
    if spans is not None and not window.ascii:
        spans.clear()
    return data, feeds


def _read_members(window: _Window, i: int, read_feed: Callable[[Any], FeedState],
                  spans: dict[str, Span] | None) -> tuple[dict[str, FeedState], int]:
    """The members of "feeds" from just after its "{": each made into its FeedState, each
    one's place noted in `spans`; and the offset after the closing "}"."""
    feeds: dict[str, FeedState] = {}
    i = window.space(i)
    if window.char(i) == "}":
        return feeds, i + 1
    while True:
        start = window.space(i)
        url, i = window.key(i)
        member, i = window.value(i)
        feeds[url] = read_feed(member)
        if spans is not None and window.ascii:
            spans[url] = Span(start, i - start)
        i = window.space(i)
        if window.char(i) != ",":
            return feeds, window.expect(i, "}", "',' delimiter")
        i += 1


def _check_version(data: Mapping[str, Any]) -> None:
    """Every file of ours leads with its version: refuse anything else, and a newer one."""
    if not data or next(iter(data)) != "version" or not isinstance(data["version"], int):
        raise ValueError("not a status_tracker state file")
    if data["version"] > STATE_VERSION:
        raise NewerStateError(f"written by a newer status_tracker (format version "
                              f"{data['version']}; this one reads {STATE_VERSION})")


# No indent: with one, CPython falls back to its pure-Python encoder (10x slower); and one
# encoder for all calls, since json.dumps with options builds a new one every time.
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class Span:
    """Bytes of the file as it is now on disk, to be copied into its next version unchanged."""

    start: int
    length: int


class StaleSpans(OSError):
    """The file a Span refers to is not the one it was taken from (deleted, replaced, cut)."""


def file_identity(path: Path) -> tuple[int, int, int] | None:
    """What tells one version of a file from another, or None when there is none."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def write_atomic(path: Path, text: str | Sequence[str | Span], *,
                 replace: Callable[[str, Path], None] = os.replace) -> list[int]:
    """Write via a temp file in the same folder, flushed and fsynced, then renamed over; return
    the byte offset at which each piece starts, and the file's length last.

    `text` may come in pieces, written in order, so a large file is never joined in memory; a
    Span piece is copied from the file being replaced, so what did not change is never encoded
    again.
    """
    pieces = [text] if isinstance(text, str) else text
    offsets = [0]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            with contextlib.ExitStack() as old:
                source = None
                i = 0
                while i < len(pieces):
                    piece = pieces[i]
                    if not isinstance(piece, Span):
                        data = piece.encode("utf-8")
                        handle.write(data)
                        offsets.append(offsets[-1] + len(data))
                        i += 1
                        continue
                    try:
                        source = source or old.enter_context(path.open("rb"))
                    except OSError as exc:
                        raise StaleSpans(f"{path} cannot be read back: {exc}") from None
                    i = _copy_run(source, handle, pieces, i, offsets, path)
            handle.flush()
            os.fsync(handle.fileno())
        replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return offsets


def _copy_run(source: IO[bytes], handle: IO[bytes], pieces: Sequence[str | Span], i: int,
              offsets: list[int], path: Path) -> int:
    """Copy the Span at pieces[i] and the members after it that lay back to back with it in
    the old file, a separator between each two, up to COPY_CHUNK bytes in one read and one
    write; record each piece's offset; return the index of the first piece not copied."""
    first = pieces[i]
    assert isinstance(first, Span)
    end, j = first.start + first.length, i + 1
    while j + 1 < len(pieces):
        sep, after = pieces[j], pieces[j + 1]
        if (not isinstance(sep, str) or not isinstance(after, Span)
                or after.start != end + len(sep.encode("utf-8"))
                or after.start + after.length - first.start > COPY_CHUNK):
            break
        end, j = after.start + after.length, j + 2
    source.seek(first.start)
    data = source.read(end - first.start)
    if len(data) != end - first.start:
        raise StaleSpans(f"{path} changed since it was last read")
    at = 0
    for piece in pieces[i:j]:
        # Every span is one "url":{…} member, and between two of a run lie the separator's
        # bytes: anything else means the file is not the one the offsets were taken from.
        if isinstance(piece, Span):
            at, size = piece.start - first.start, piece.length
            fits = data[at:at + 1] == b'"' and data[at + size - 1:at + size] == b"}"
        else:
            separator = piece.encode("utf-8")
            size = len(separator)
            fits = data[at:at + size] == separator
        if not fits:
            raise StaleSpans(f"{path} changed since it was last read")
        at += size
        offsets.append(offsets[-1] + size)
    handle.write(data)
    return j


class StateFileError(Exception):
    """The --state path cannot be used; the message says why in one line (exit 2)."""


class StateLockedError(StateFileError):
    pass


def check_state_path(path: Path, *, create_folder: bool = False) -> bool:
    """Refuse, before anything else is created or renamed, a path that is no place for state.

    With `create_folder`, a missing folder whose own parent exists is created (one level
    only: a typo in a long path should not grow a tree); returns whether it was.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        folder = path.parent
        if folder.is_dir():
            return False
        if not create_folder or not folder.parent.is_dir():
            raise StateFileError(f"state file {path}: folder {folder} does not exist; "
                                 f"create it first (mkdir -p {folder})") from None
        try:
            folder.mkdir(mode=0o700)
        except OSError as exc:
            raise StateFileError(f"state file {path}: cannot create folder {folder}: "
                                 f"{exc.strerror or exc}; create it yourself or give another "
                                 "--state path") from None
        return True
    except OSError as exc:
        raise StateFileError(f"state file {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise StateFileError(f"state file {path}: is a folder; give a file name in it")
    if not stat.S_ISREG(mode):
        raise StateFileError(f"state file {path}: not a regular file (a device or a pipe)")
    try:
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        raise StateFileError(f"state file {path}: cannot read it: {exc.strerror or exc}"
                             ) from None
    _check_ours(path, head)
    return False


# A state file of ours starts so (the encoder never writes spaces); anything else is somebody
# else's file given by mistake, and is never renamed or replaced.
_OUR_FILE = re.compile(rb'\s*\{\s*"version"\s*:')


def _check_ours(path: Path, head: bytes) -> None:
    if head.strip() and not _OUR_FILE.match(head):
        raise StateFileError(f"state file {path}: not a status_tracker state file; refusing to "
                             "replace it (give another --state path)")


def _lock(handle: IO[bytes]) -> bool:
    """An exclusive, non-blocking OS lock on an open file; False when another process has it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _outbox_to_json(outbox: Outbox) -> tuple[list[dict[str, str]], dict[str, Any] | None]:
    """A route's queued bodies and its held events as the state file keeps them."""
    queued = [{"event_id": q.event_id, "body": q.body} for q in outbox.queued]
    held = {"since": _epoch(outbox.held_since), "events": [
        {**event_to_dict(e), "event_id": e.event_id} for e in outbox.held]}
    return queued, held if outbox.held else None


def _outboxes_from_json(queued: Mapping[str, Any], held: Mapping[str, Any]
                        ) -> dict[str, Outbox]:
    """Every route's outbox from the state file; each event must come back whole."""
    outboxes: dict[str, Outbox] = {}
    for url, entries in queued.items():
        outboxes[url] = Outbox([Queued(str(e["event_id"]), str(e["body"])) for e in entries])
    for url, waiting in held.items():
        outbox = outboxes.setdefault(url, Outbox())
        outbox.held = [event_from_dict(e) for e in waiting["events"]]
        outbox.held_since = _from_epoch(waiting.get("since"))
    return outboxes


@dataclass(slots=True)
class Loaded:
    """What a state file holds: each feed's memory and when it was last read, each route's
    outbox, and where each feed's member lies in the file (to be copied, not encoded again)."""

    feeds: dict[str, FeedState] = field(default_factory=dict)
    polled: dict[str, datetime] = field(default_factory=dict)
    outboxes: dict[str, Outbox] = field(default_factory=dict)
    spans: dict[str, Span] = field(default_factory=dict)


def _decode_state(window: _Window, now: datetime) -> Loaded:
    """The contents of a state file; raises if it is unusable."""
    times: dict[float, datetime] = {}
    # Offsets in the text are offsets in the file only where every character is one byte;
    # a file with others has no spans, and each feed is encoded again at its first save.
    spans: dict[str, Span] = {}
    data, feeds = _read_state(window, lambda f: _feed_from_json(f, times, now), spans)
    if feeds is None:  # "feeds" was not an object: fails as it always did
        feeds = {url: _feed_from_json(f, times, now) for url, f in data.get("feeds", {}).items()}
    polled = {url: when for url in feeds
              if (when := _from_epoch(data.get("polled", {}).get(url))) is not None}
    return Loaded(feeds, polled, _outboxes_from_json(data.get("outbox", {}),
                                                     data.get("held", {})), spans)


def load_state(path: Path, target: Path, *, now: datetime, read_only: bool = False) -> Loaded:
    """Read a state file (`target`, what `path` names); set aside (never overwrite) one that is
    unusable, refuse one from a newer version.

    `read_only` (the status board beside a running tracker) touches nothing in the folder: no
    leftover temp file removed (it may be the owner's write in flight), nothing renamed.
    """
    for stale in () if read_only else target.parent.glob(f".{target.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()  # left by a crash between writing and renaming
    try:
        handle = target.open("rb")
    except FileNotFoundError:
        return Loaded()
    except OSError as exc:
        raise StateFileError(f"state file {path}: cannot read it: {exc.strerror or exc}"
                             ) from None
    with handle:
        try:
            head = handle.read(64)
            _check_ours(path, head)
            window = _Window(handle.read, head, STATE_CHUNK)
            if window.only_space():
                return Loaded()  # created empty by hand: nothing remembered yet
            return _decode_state(window, now)
        except NewerStateError as exc:
            # Set aside, its outbox would be lost to the newer version it came from.
            raise StateFileError(f"state file {path}: {exc}; left as it is (upgrade "
                                 "status_tracker, or give another --state)") from None
        except OSError as exc:
            raise StateFileError(f"state file {path}: cannot read it: {exc.strerror or exc}"
                                 ) from None
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
            problem = exc
    # Set aside only now it is closed: Windows renames no open file.
    why = clean_text(str(problem))[:160]
    if read_only:
        raise StateFileError(f"state file {path}: unusable ({why})")
    aside = target.with_name(f"{target.name}.bad-{now.strftime('%Y%m%dT%H%M%S')}")
    try:
        os.replace(target, aside)
    except OSError as move_error:
        raise StateFileError(f"state file {path} is unusable ({why}) and cannot be set aside: "
                             f"{move_error.strerror or move_error}") from None
    log.warning("state file %s is unusable (%s); kept it as %s and starting afresh", path, why,
                aside)
    return Loaded()


class StateLock:
    """The lock file beside a state file: one process writes it (the state file itself is
    renamed over at every write, so the lock cannot be on it)."""

    def __init__(self, path: Path, target: Path) -> None:
        self.path = path  # the state file as the user named it, for messages
        self.lock_path = target.with_name(target.name + ".lock")
        self._handle: IO[bytes] | None = None
        self._lost = False

    def acquire(self) -> None:
        try:
            handle = open(self.lock_path, "a+b")  # noqa: SIM115 -- held open for the whole run
        except OSError as exc:
            raise StateFileError(f"state file {self.path}: cannot create its lock file "
                                 f"{self.lock_path}: {exc.strerror or exc}") from None
        if not _lock(handle):
            handle.close()
            raise StateLockedError(
                f"state file {self.path} is in use by another status_tracker "
                f"(lock {self.lock_path} is held); stop that one or use another --state")
        self._handle = handle

    def still_ours(self) -> bool:
        """Whether the lock file on disk is still the one this process holds.

        Deleting the lock file of a running tracker lets a second one lock a new file, and
        both would write the state. Checked before every write: a deleted lock is taken
        again; one that another process took means this one stops writing, loudly.
        """
        if self._lost:
            return False
        if self._handle is None:
            return True  # not locked by design (a store used without acquire, as in tests)
        try:
            same = os.stat(self.lock_path).st_ino == os.fstat(self._handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return True
        self.release()
        try:
            self.acquire()
        except (StateLockedError, OSError):
            self._lost = True
            log.critical("lock file %s was removed and another status_tracker took %s: this "
                         "one no longer writes it", self.lock_path, self.path)
            return False
        log.warning("lock file %s was removed while running; took it again", self.lock_path)
        return True

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class StateStore:
    """The --state file: each feed's memory, and each route's outbox, owned by one process.

    A feed's state comes in only through changed() (or put()), which also marks it to be
    encoded again at the next save; every other feed is copied from the file as it is.
    """

    def __init__(self, path: Path, *, clock: Clock, rng: random.Random | None = None,
                 write: Callable[[Path, Sequence[str | Span]], list[int]] | None = None,
                 spacing: float = 0.0) -> None:
        self.path = path
        # Where the file really is: a --state path that is a symlink stays one, and its
        # target is what is written (atomically, in the target's folder) and locked.
        self.target = path.resolve()
        self.lock = StateLock(path, self.target)
        # After a write, the next of a monitor's saves waits `spacing` times as long as that
        # one took (see changed()).
        self.spacing = spacing
        self._quiet_until = 0.0  # on `clock`: when the next paced write may start
        self._hurry = asyncio.Event()  # set by a save that is not paced: no spacing for anyone
        self._paced: set[asyncio.Future[bool]] = set()  # saves started by changed()
        self._feeds: dict[str, FeedState] = {}
        self.polled: dict[str, datetime] = {}  # when each feed was last read
        self.outboxes: dict[str, Outbox] = {}
        self.clock = clock
        self.rng = rng or random.Random()
        self._write = write or write_atomic
        self._save_lock = asyncio.Lock()
        self._requested = 0  # save() calls so far
        self._written = 0  # the last of those calls whose changes are on disk
        self.trouble = Trouble()  # failed writes in a row, and when to try again
        self._retry_wanted = asyncio.Event()
        # Where each unchanged feed's member sits in the file on disk (see pieces()); the
        # store is the one place that decides what must be encoded again.
        self._spans: dict[str, Span] = {}
        self._marked: set[str] = set()  # feeds changed since the current write began
        self._identity: tuple[int, int, int] | None = None  # of the file the spans are in

    @property
    def feeds(self) -> Mapping[str, FeedState]:
        return self._feeds

    @property
    def retry_at(self) -> float | None:
        return self.trouble.retry_at

    def load(self, *, read_only: bool = False) -> None:
        """Read the file (see load_state)."""
        loaded = load_state(self.path, self.target, now=self.clock.now(), read_only=read_only)
        self._feeds, self.polled, self.outboxes, self._spans = (
            loaded.feeds, loaded.polled, loaded.outboxes, loaded.spans)
        self._identity = file_identity(self.target)

    def feed(self, url: str) -> FeedState:
        """What is remembered of a feed; a fresh state for one never read."""
        return self._feeds.get(url) or FeedState()

    def outbox(self, url: str) -> Outbox:
        """A route's outbox, the one kept in the file (a new one for a new route)."""
        return self.outboxes.setdefault(url, Outbox())

    def drop_outbox(self, url: str) -> int:
        """Forget the outbox of a route no longer configured; how many events it held."""
        return len(self.outboxes.pop(url, Outbox()))

    def put(self, url: str, state: FeedState) -> None:
        """A feed's new state: its next save encodes it again."""
        self._feeds[url] = state
        self._spans.pop(url, None)
        self._marked.add(url)

    def polled_at(self, url: str, when: datetime) -> None:
        """When a feed was last read (every save writes these, all of them)."""
        self.polled[url] = when

    async def changed(self, url: str, state: FeedState, save: bool = True) -> None:
        """A feed's new state, from the poll that made it; `save` writes it now (a change
        worth keeping at once), else it goes with the next write.

        With `spacing`, the write starts no sooner after the last than `spacing` times as
        long as that one took, so that writing takes at most 1/(1 + spacing) of the time
        however fast feeds change (a cold start of a large fleet changes many a second, and
        each write copies the whole file). The write is then started, not waited for (the
        poll that asked must not wait out the spacing); changes that come meanwhile go with
        it, and any other save ends the wait.
        """
        self.put(url, state)
        if not save:
            return
        if not self.spacing:
            await self.save()
            return
        paced = asyncio.ensure_future(self.save(paced=True))
        self._paced.add(paced)
        paced.add_done_callback(self._paced.discard)

    async def flush(self) -> bool:
        """The last save before exit: everything is written, whatever waits or backs off."""
        saved = await self.save(now=True)
        await asyncio.gather(*self._paced)  # each covered by that write: they end at once
        return saved

    def pieces(self, now: datetime) -> tuple[list[str | Span], dict[str, int]]:
        """The whole file in pieces that concatenate to its JSON, and which piece is each
        feed's member.

        A feed unchanged since the file was last written or read is a Span of that file: only
        changed feeds are encoded, no cache of them is kept in memory, and the pieces are
        never joined on the event loop (a large fleet's file is tens of megabytes).
        """
        out: list[str | Span] = [f'{{"version":{STATE_VERSION},"feeds":{{']
        members: dict[str, int] = {}
        polled: dict[str, int | None] = {}
        for url, state in self._feeds.items():
            last = self.polled.get(url)
            if (state.first_sight and not state.failures) or (
                    last is not None and now - last > FORGET_AFTER):
                continue  # nothing known yet, or no longer polled for a long time
            members[url] = len(out)
            out.extend((self._spans.get(url) or
                        f"{_compact(url)}:{_compact(_feed_to_json(state))}", ","))
            # In whole seconds, all a restart needs to know when to poll next: every save
            # encodes every feed's, and an int in a fraction of a float's time.
            polled[url] = None if last is None else int(last.timestamp())
        if polled:
            out.pop()  # the last comma
        queued, held = {}, {}
        for url, outbox in self.outboxes.items():
            queued[url], waiting = _outbox_to_json(outbox)
            if waiting is not None:
                held[url] = waiting
        out.append(f'}},"polled":{_compact(polled)},"outbox":{_compact(queued)},'
                   f'"held":{_compact(held)}}}')
        return out, members

    async def save(self, *, now: bool = False, paced: bool = False) -> bool:
        """Write everything changed so far; True once that is on disk.

        Saves are coalesced: callers that queue behind a running write are all covered by the
        next one, so a burst of changed polls costs one or two writes, not one each. A write
        that fails (disk full, read-only, EIO, permissions) is said once and retried with
        backoff by keep_saving(); meanwhile saves return at once, and polling goes on. `now`
        writes even while waiting for a retry (the last save before exit). A `paced` save
        keeps to the spacing (see changed()).
        """
        self._requested += 1
        wanted = self._requested
        if not now and self.trouble.retry_at is not None:
            return False
        if not paced:
            self._hurry.set()
        async with self._save_lock:
            if self._written >= wanted:
                return True
            if paced:
                await self._keep_spacing()
            self._hurry.clear()
            covered = self._requested
            if not self.lock.still_ours():
                return False
            if await self._write_out():
                self._written = covered
                return True
            return False

    async def _keep_spacing(self) -> None:
        """Wait out the spacing after the last write, unless another save hurries."""
        while (not self._hurry.is_set()
               and (wait := self._quiet_until - self.clock.monotonic()) > 0):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hurry.wait(), wait)

    async def _write_out(self) -> bool:
        """One write of the whole file, off the loop; False (said, retried) when it fails."""
        started = self.clock.monotonic()
        self._marked.clear()
        if self._spans and file_identity(self.target) != self._identity:
            self._spans_lost("was changed by something else")
        try:
            pieces, members = self.pieces(self.clock.now())
            try:
                offsets = await asyncio.to_thread(self._write, self.target, pieces)
            except StaleSpans as exc:
                self._spans_lost(str(exc))
                pieces, members = self.pieces(self.clock.now())
                offsets = await asyncio.to_thread(self._write, self.target, pieces)
        except Exception as exc:  # whatever broke the write, polling must go on
            self._save_failed(exc)
            return False
        # Where each feed now sits in the new file; a feed changed while it was being
        # written gets no span, so its newer state goes with the next write.
        self._spans = {url: Span(offsets[i], offsets[i + 1] - offsets[i])
                       for url, i in members.items() if url not in self._marked}
        self._identity = file_identity(self.target)
        ended = self.clock.monotonic()
        self._quiet_until = ended + self.spacing * (ended - started)
        self.trouble.recover("state file %s: saved again after %s", self.path,
                             plural(self.trouble.failures, "failed write"))
        return True

    def _spans_lost(self, why: str) -> None:
        """The file on disk is not the one last written: every feed is written out whole."""
        log.warning("state file %s: %s; writing it whole", self.path, clean_text(why)[:200])
        self._spans = {}

    def _save_failed(self, exc: Exception) -> None:
        if isinstance(exc, OSError):
            reason = clean_text(exc.strerror or str(exc)) or type(exc).__name__
        else:
            reason = exception_words(exc)
        trouble = self.trouble
        _, _, delay = next_health(Health(trouble.failures), Outcome(reason),
                                  policy=RetryPolicy(0.0, MAX_SAVE_DELAY), rng=self.rng)
        trouble.fail(reason, "state file %s: cannot save (%s); polling goes on, retrying with "
                     "backoff", self.path, reason, level=logging.ERROR)
        log.debug("state save traceback", exc_info=exc)
        trouble.retry_at = self.clock.monotonic() + delay
        self._retry_wanted.set()

    async def keep_saving(self, stop: asyncio.Event,
                          sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        """Retry a failed save with backoff until it is written or `stop` is set."""
        wait = sleep or (lambda delay: _sleep_until(stop, delay))
        while not stop.is_set():
            if (retry_at := self.trouble.retry_at) is None:
                self._retry_wanted.clear()
                await _wait_either(self._retry_wanted, stop)
                continue
            await wait(max(0.0, retry_at - self.clock.monotonic()))
            if stop.is_set():
                break
            self.trouble.retry_at = None
            await self.save()


# #### I/O edge: history (SQLite) ##################################################################


HISTORY_SCHEMA = 1  # the database's PRAGMA user_version once every migration has run
# Each migration takes the database from the version of its index to the next; a new one is
# added at the end, and what a step makes is never changed, so any older file is brought up
# to date step by step.
HISTORY_MIGRATIONS = (
    """
    CREATE TABLE IF NOT EXISTS events(
        seq INTEGER PRIMARY KEY, recorded REAL NOT NULL, feed TEXT NOT NULL,
        kind TEXT NOT NULL, incident TEXT, body TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS events_by_time ON events(recorded);
    CREATE INDEX IF NOT EXISTS events_by_feed ON events(feed, recorded);
    CREATE TABLE IF NOT EXISTS incidents(
        feed TEXT NOT NULL, id TEXT NOT NULL, title TEXT NOT NULL, link TEXT NOT NULL,
        impact TEXT, maintenance INTEGER NOT NULL, components TEXT NOT NULL, started REAL,
        resolved REAL, updated REAL, PRIMARY KEY(feed, id));
    CREATE TABLE IF NOT EXISTS steps(
        feed TEXT NOT NULL, incident TEXT NOT NULL, at REAL, status TEXT NOT NULL,
        message TEXT NOT NULL, UNIQUE(feed, incident, at, status, message));
    CREATE TABLE IF NOT EXISTS components(
        feed TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, since REAL NOT NULL);
    CREATE INDEX IF NOT EXISTS components_by_feed ON components(feed, name, since);
    CREATE TABLE IF NOT EXISTS windows(
        feed TEXT NOT NULL, code TEXT NOT NULL, title TEXT NOT NULL, link TEXT NOT NULL,
        starts REAL, ends REAL, status TEXT NOT NULL, sequence INTEGER NOT NULL,
        updated REAL NOT NULL, PRIMARY KEY(feed, code))
    """,
)


class HistoryError(Exception):
    """The history database cannot be opened or is not ours; the message says why.
    `passing`: a full disk, a lock or an I/O error, which may clear while the watch goes on."""

    def __init__(self, message: str, *, passing: bool = False) -> None:
        super().__init__(message)
        self.passing = passing


# SQLite's primary result codes that say the moment, not the file, is wrong: busy, locked,
# I/O error, full.
_PASSING_SQLITE_CODES = frozenset({5, 6, 10, 13})
_PASSING_ERRNOS = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EIO", "EAGAIN")
                            if hasattr(errno, name))


def open_history(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection with the schema brought up to date (WAL, one writer); read-only for
    --report and the page, which never write."""
    try:
        if not read_only and not path.exists():
            # Created private, as the state file is: the journal files take its mode.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        if read_only:
            if not path.exists():
                raise HistoryError(f"history {path}: no such file (it is written while "
                                   "watching with --state or --history-db)")
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            db = sqlite3.connect(path, check_same_thread=False)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > HISTORY_SCHEMA:
            db.close()
            raise HistoryError(f"history {path}: written by a newer version (schema "
                               f"{version}); not touched")
        if not read_only:
            db.execute("PRAGMA journal_mode=WAL")  # readers (the page, --report) never wait
            db.execute("PRAGMA synchronous=NORMAL")  # WAL keeps it consistent on a crash
            for number in range(version, HISTORY_SCHEMA):
                # One transaction a step (executescript would commit each statement alone):
                # a step cut short by a full disk leaves nothing behind, and its statements
                # may run again anyway.
                try:
                    db.executescript(f"BEGIN; {HISTORY_MIGRATIONS[number]}; "
                                     f"PRAGMA user_version = {number + 1}; COMMIT;")
                except sqlite3.Error:
                    if db.in_transaction:
                        db.rollback()
                    raise
        elif version < HISTORY_SCHEMA:
            raise HistoryError(f"history {path}: an older schema; a watch brings it up to date")
        return db
    except sqlite3.DatabaseError as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        raise HistoryError(f"history {path}: {exc}",
                           passing=code in _PASSING_SQLITE_CODES) from None
    except OSError as exc:
        raise HistoryError(f"history {path}: {_os_error_words(exc)}",
                           passing=exc.errno in _PASSING_ERRNOS) from None


class EventRecord(typing.NamedTuple):
    """An event the tracker reported, and when."""

    event: IncidentEvent
    recorded: float

    def write(self, db: sqlite3.Connection) -> None:
        _write_event(db, self.event, self.recorded)


class ComponentChanges(typing.NamedTuple):
    """A page's components whose status changed, and when it was seen."""

    feed: str
    changes: Mapping[str, str]
    at: float

    def write(self, db: sqlite3.Connection) -> None:
        db.executemany("INSERT INTO components VALUES (?, ?, ?, ?)",
                       [(self.feed, name, status, self.at)
                        for name, status in self.changes.items()])


class WindowList(typing.NamedTuple):
    """A page's maintenance list as read, when it changed."""

    feed: str
    windows: Sequence[ApiIncident]
    at: float

    def write(self, db: sqlite3.Connection) -> None:
        _write_windows(db, self.feed, self.windows, self.at)


class Prune(typing.NamedTuple):
    """Rows older than `before` go."""

    before: float

    def write(self, db: sqlite3.Connection) -> None:
        for table, column in (("events", "recorded"), ("incidents", "updated"),
                              ("steps", "at"), ("windows", "updated")):
            db.execute(f"DELETE FROM {table} WHERE {column} < ?", (self.before,))
        _prune_components(db, self.before)


HistoryRecord = EventRecord | ComponentChanges | WindowList | Prune


def _history_rows(db: sqlite3.Connection, records: Sequence[HistoryRecord]) -> None:
    """Write one batch of records in one transaction."""
    with db:
        for record in records:
            record.write(db)


def _write_event(db: sqlite3.Connection, event: IncidentEvent, recorded: float) -> None:
    inc = event.incident
    db.execute("INSERT INTO events(recorded, feed, kind, incident, body) VALUES (?, ?, ?, ?, ?)",
               (recorded, event.feed, str(event.kind), inc.id if inc else None,
                json.dumps(event_to_dict(event), ensure_ascii=False)))
    if inc is None:
        return
    steps = inc.steps or (Step(inc.status, inc.message, inc.updated, ""),)
    db.executemany("INSERT OR IGNORE INTO steps VALUES (?, ?, ?, ?, ?)",
                   [(event.feed, inc.id, _epoch(s.at), s.status, s.message) for s in steps])
    first = min((s.at for s in steps if s.at), default=None) or inc.published or inc.updated
    closed = not inc.active or event.kind is Kind.MAINTENANCE_COMPLETED
    last = inc.updated or (steps[-1].at if steps else None)
    db.execute(
        """INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(feed, id) DO UPDATE SET title = excluded.title, link = excluded.link,
             impact = COALESCE(excluded.impact, incidents.impact),
             components = excluded.components,
             started = MIN(COALESCE(incidents.started, excluded.started), excluded.started),
             resolved = excluded.resolved, updated = excluded.updated""",
        (event.feed, inc.id, inc.title, inc.link, inc.impact, int(inc.maintenance),
         json.dumps(list(inc.components), ensure_ascii=False), _epoch(first),
         _epoch(last) if closed else None, recorded))


def _write_windows(db: sqlite3.Connection, feed: str, windows: Sequence[ApiIncident],
                   at: float) -> None:
    """A page's maintenance list as read: new windows added, a moved one's sequence raised
    (calendars take the change), and one gone before it began marked cancelled."""
    known = {row[0]: row[1:] for row in db.execute(
        "SELECT code, starts, ends, status, sequence FROM windows WHERE feed = ?", (feed,))}
    listed = set()
    for w in windows:
        listed.add(w.code)
        starts, ends = _epoch(w.scheduled_for), _epoch(w.scheduled_until)
        before = known.get(w.code)
        sequence = 0 if before is None else before[3] + (
            (before[0], before[1]) != (starts, ends) or before[2] == "cancelled")
        db.execute("INSERT OR REPLACE INTO windows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (feed, w.code, w.title, w.link, starts, ends, w.status, sequence, at))
    for code, (starts, _ends, status, sequence) in known.items():
        if code not in listed and status == "scheduled" and (starts or 0) > at:
            db.execute("UPDATE windows SET status = 'cancelled', sequence = ?, updated = ? "
                       "WHERE feed = ? AND code = ?", (sequence + 1, at, feed, code))


def _prune_components(db: sqlite3.Connection, before: float) -> None:
    """Old status changes go, but each component keeps the last one before the cut: it says
    the state it was in when the kept history begins."""
    db.execute("""DELETE FROM components WHERE since < ? AND rowid NOT IN (
                    SELECT rowid FROM components c WHERE c.since = (
                      SELECT MAX(since) FROM components d WHERE d.feed = c.feed
                      AND d.name = c.name AND d.since < ?))""", (before, before))


def _spans(changes: Sequence[tuple[str, float]], start: float, end: float
           ) -> list[tuple[str, float, float]]:
    """A component's status changes (status, since; oldest first) as (status, from, to)
    spans clipped to [start, end]; the one before `start` says where it began."""
    spans = []
    for i, (status, since) in enumerate(changes):
        until = changes[i + 1][1] if i + 1 < len(changes) else end
        low, high = max(since, start), min(until, end)
        if high > low:
            spans.append((status, low, high))
    return spans


class History:
    """The history database's one writer: records are queued on the loop and written in
    batches in a thread of their own; a failed write is said once, kept, and tried again
    with backoff, and never stops a poll. A quiet poll records nothing."""

    def __init__(self, path: Path, *, clock: Clock, days: int = HISTORY_DAYS,
                 rng: random.Random | None = None) -> None:
        self.path = path
        self.clock = clock
        self.days = days
        self.rng = rng or _SHARED_RNG
        self.trouble = Trouble()
        self.db: sqlite3.Connection | None = None
        # Each component's last recorded status: a restart writes only what changed since.
        self._components: dict[str, dict[str, str]] = {}
        try:
            self.db = open_history(path)
            for feed, name, status in self.db.execute(
                    "SELECT feed, name, status FROM components c WHERE since = (SELECT "
                    "MAX(since) FROM components d WHERE d.feed = c.feed AND d.name = c.name)"):
                self._components.setdefault(feed, {})[name] = status
        except HistoryError as exc:
            if not exc.passing:
                raise
            # A full disk at start is no reason not to watch: records wait, and the
            # database is opened again with the next batch.
            self.trouble.fail(str(exc), "%s; records kept, tried again", exc)
        # One thread at a time on the connection: a write cancelled by a stop goes on in its
        # thread while the last flush and the close come after it.
        self._db_lock = threading.Lock()
        self.pending: list[HistoryRecord] = []
        self.written = 0
        self._wanted = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._windows: dict[str, str] = {}
        self._pruned_at: float | None = None

    def __call__(self, event: IncidentEvent) -> None:
        """An event the tracker reported: a callback beside the console and the webhooks."""
        self._add(EventRecord(event, self.clock.now().timestamp()))

    def components(self, feed: str, states: Mapping[str, str]) -> None:
        """A page's component states; only the changes since the last call are written."""
        last = self._components.setdefault(feed, {})
        changes = {name: s for name, s in states.items() if s and last.get(name) != s}
        if changes:
            last.update(changes)
            self._add(ComponentChanges(feed, changes, self.clock.now().timestamp()))

    def windows(self, feed: str, windows: Mapping[str, ApiIncident]) -> None:
        """A page's maintenance list as read; written only when it changed."""
        digest = _digest(*(f"{c}|{w.title}|{w.status}|{_iso(w.scheduled_for)}|"
                           f"{_iso(w.scheduled_until)}" for c, w in sorted(windows.items())))
        if self._windows.get(feed) != digest:
            self._windows[feed] = digest
            self._add(WindowList(feed, list(windows.values()), self.clock.now().timestamp()))

    def _add(self, record: HistoryRecord) -> None:
        self.pending.append(record)
        self._wanted.set()

    async def keep_writing(self, stop: asyncio.Event) -> None:
        """Write what is queued, in batches, until `stop`; then what is left, once."""
        while not stop.is_set():
            await _wait_either(self._wanted, stop)
            await _sleep_until(stop, HISTORY_BATCH_SECONDS)  # let a poll's records gather
            self._prune_when_due()
            if not await self.flush() and not stop.is_set():
                delay = backoff_delay(self.trouble.failures, 1.0, MAX_SAVE_DELAY, self.rng)
                await _sleep_until(stop, delay)
        await self.flush()

    def _prune_when_due(self) -> None:
        now = self.clock.monotonic()
        if self._pruned_at is None or now - self._pruned_at >= 86_400:
            self._pruned_at = now
            self._add(Prune(self.clock.now().timestamp() - self.days * 86_400))

    async def flush(self) -> bool:
        """Write every queued record; False (and the records kept) when it failed. One flush
        at a time (the writer's and the page's): a batch put back after a failure must not be
        written after a newer one, whose upserts it would undo."""
        async with self._flushing:
            batch, self.pending = self.pending, []
            self._wanted.clear()
            if not batch:
                return True
            return await self._flush(batch)

    async def _flush(self, batch: list[HistoryRecord]) -> bool:
        try:
            await in_daemon_thread(self._write, batch, pool="history")
        except (HistoryError, sqlite3.Error) as exc:  # opening again, or writing
            self.pending = batch + self.pending
            said = str(exc) if isinstance(exc, HistoryError) else (
                f"history {self.path}: cannot write ({exception_words(exc)})")
            self.trouble.fail(str(exc), "%s; records kept, tried again", said)
            return False
        self.written += len(batch)
        self.trouble.recover("history %s: written again", self.path)
        return True

    def _write(self, batch: Sequence[HistoryRecord]) -> None:
        with self._db_lock:
            if self.db is None:
                self.db = open_history(self.path)
            _history_rows(self.db, batch)

    def close(self) -> None:
        with self._db_lock, contextlib.suppress(sqlite3.Error):
            if self.db is not None:
                self.db.close()


# #### Delivery: the console, webhooks and their routes ############################################


@dataclass(frozen=True, slots=True)
class Route:
    """One notification destination and what reaches it."""

    url: str
    feeds: tuple[str, ...] = ()  # empty: every feed
    filter: EventFilter = EventFilter()  # components and min_impact
    kinds: tuple[str, ...] = ()  # empty: every kind
    format: Format = Format.AUTO
    quiet_hours: tuple[int, int] | None = None  # minutes after local midnight: from, until
    timezone: str = "UTC"
    digest: float | None = None  # seconds per batch
    secret: str | None = None
    urgent: bool = False  # feed_down is never held by quiet hours

    @property
    def resolved_format(self) -> str:
        return resolve_format(self.url, self.format)

    def accepts(self, event: IncidentEvent) -> bool:
        """Filters apply to every kind, health events included; unknown components or
        impact pass."""
        if self.feeds and event.feed.lower() not in {f.lower() for f in self.feeds}:
            return False
        if self.kinds and event.kind not in self.kinds:
            return False
        return event.incident is None or self.filter.passes(event.incident)

    def quiet_at(self, now: datetime) -> bool:
        if self.quiet_hours is None:
            return False
        # Local wall-clock time each time: correct across DST changes by construction.
        local = now.astimezone(_zone(self.timezone))
        minute, (start, end) = local.hour * 60 + local.minute, self.quiet_hours
        return start <= minute < end if start < end else minute >= start or minute < end


def _zone(name: str) -> tzinfo:
    # UTC needs no time zone database (Windows has none unless the tzdata package is there).
    return UTC if name.upper() == "UTC" else zoneinfo.ZoneInfo(name)


def webhook_body(url: str, event: IncidentEvent) -> str:
    """The POST body for one event, in the format the URL implies."""
    return render(url, Format.AUTO, [event])


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class TextSink(typing.Protocol):
    """Where console text goes: a text stream, or the CLI's StdoutWriter."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


class ConsolePrinter:
    """The default callback: a readable block per event on stdout (or JSON lines).

    A stdout that was closed (EPIPE, as `| head -1` does) is said once on stderr and no
    longer written; the event still reaches every other output.
    """

    label = "console"

    def __init__(self, stream: TextSink | None = None, *, as_json: bool = False) -> None:
        self.stream = stream
        self.as_json = as_json
        self.closed = False

    def __call__(self, event: IncidentEvent) -> None:
        stream = self.stream or sys.stdout
        if self.closed or stream is None:  # sys.stdout is None under pythonw
            return
        if self.as_json:
            text = json.dumps(event_to_dict(event), ensure_ascii=False) + "\n"
        else:
            text = format_event(event) + "\n\n"
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            self.closed = True
            _say_stdout_gone(exc)


def _say_stdout_gone(exc: Exception) -> None:
    reason = exc.strerror if isinstance(exc, OSError) else None
    log.warning("stdout cannot be written (%s): no longer printing events; webhooks and the "
                "state file go on", clean_text(reason or type(exc).__name__))


class StdoutWriter:
    """stdout written by a thread, so a reader that stopped reading blocks that thread and
    never the event loop: polling, delivery and SIGTERM go on. At most `backlog` writes wait;
    newer ones are dropped beyond that, said once on stderr.

    It writes to the file descriptor, not through sys.stdout: a thread stuck inside
    sys.stdout.write would hold its lock, and the interpreter's final flush would then
    abort the process at exit.
    """

    def __init__(self, stream: TextIO, *, backlog: int = CONSOLE_BACKLOG) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=backlog)
        self.dropped = 0
        self.broken = False
        encoding = getattr(stream, "encoding", None) or "utf-8"
        self._write_out: Callable[[str], None]

        def through_stream(text: str) -> None:
            stream.write(text)
            stream.flush()

        try:
            fd = stream.fileno()
        except (OSError, ValueError):  # io.UnsupportedOperation: a stream with no descriptor
            fd = -1
        if fd < 0 or (sys.platform == "win32" and stream.isatty()):
            # No descriptor (an IDE, a test harness), or the Windows console, which needs
            # Python's own console writer for Unicode and is not a pipe a reader can stall.
            self._write_out = through_stream
        else:

            def to_fd(text: str) -> None:
                data = memoryview(text.encode(encoding, "replace"))
                while data:
                    data = data[os.write(fd, data):]

            self._write_out = to_fd
        self._thread = threading.Thread(target=self._work, name="status_tracker stdout",
                                        daemon=True)
        self._thread.start()

    def write(self, text: str) -> None:
        if self.broken:
            return
        try:
            self._queue.put_nowait(text)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                log.warning("stdout is not being read: %d events wait for it; dropping newer "
                            "ones from the console (webhooks and the state file go on)",
                            self._queue.maxsize)

    def flush(self) -> None:
        """Nothing to do: the thread writes each piece straight to the descriptor."""

    def _work(self) -> None:
        while (text := self._queue.get()) is not None:
            try:
                if not self.broken:
                    self._write_out(text)
            except Exception as exc:  # EPIPE above all; whatever it is, stdout is done
                # Said before it is marked: drain() may return as soon as it is.
                _say_stdout_gone(exc)
                self.broken = True
            finally:
                self._queue.task_done()
        self._queue.task_done()

    @property
    def idle(self) -> bool:
        return self.broken or self._queue.unfinished_tasks == 0

    async def settle(self, seconds: float, clock: Clock) -> bool:
        """Wait up to `seconds` for what is queued to be written; True when it was."""
        deadline = clock.monotonic() + seconds
        while not self.idle and clock.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.idle

    async def drain(self, seconds: float, clock: Clock) -> bool:
        """As settle, then let the writing thread end: nothing more is written."""
        written = await self.settle(seconds, clock)
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)  # lets the thread end once it is unblocked
        if not written:
            log.warning("stdout is not being read: exiting with output not yet printed")
        return written


def apprise_available() -> bool:
    return importlib.util.find_spec("apprise") is not None


def _apprise_label(url: str) -> str:
    """Apprise's own privacy form of a URL (tokens masked), or just its scheme."""
    with contextlib.suppress(Exception):
        import apprise

        plugin: Any = apprise.Apprise.instantiate(url)  # its url() is untyped
        if plugin:
            return clean_text(str(plugin.url(privacy=True)).split("?")[0])
    return f"{clean_text(url.split(':', 1)[0])}://…"


def _apprise_notify(job: tuple[str, Mapping[str, str]]) -> bool:
    """One blocking Apprise delivery; True when Apprise says it was sent."""
    import apprise

    url, payload = job
    sender = apprise.Apprise()
    if not sender.add(url):
        raise ValueError("Apprise does not understand this URL")
    return bool(sender.notify(body=payload["body"], title=payload["title"],
                              notify_type=payload.get("type", "warning")))


async def post_body(shared: Shared, url: str, body: bytes, secret: str | None
                    ) -> tuple[int, str, float | None]:
    """POST one body (signed when there is a secret); its status, the start of its reply,
    and the seconds it asked to wait (Retry-After). Raises what the request raises."""
    headers = {"Content-Type": "application/json"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    async with shared.session.post(url, data=body, headers=headers,
                                   proxy=shared.proxies.for_url(url), timeout=WEBHOOK_TIMEOUT,
                                   allow_redirects=False) as resp:
        text = (await resp.content.read(300)).decode("utf-8", "replace")
        return (resp.status, text,
                retry_after_seconds(resp.headers.get("Retry-After"), shared.clock.now()))


class WebhookSender:
    """Delivers one route's outbox in order, at least once; never blocks polling.

    Events the route does not want are left out. Inside quiet hours, or on a digest route,
    events are held (in the outbox, so in the state file) and go out together as one digest
    message: at the end of the quiet hours, or once per digest period. Only the sender
    changes its outbox.
    """

    def __init__(self, url: str, shared: Shared, outbox: Outbox | None = None, *,
                 route: Route | None = None, secret: str | None = None,
                 on_change: Callable[[], Awaitable[object]] | None = None,
                 max_delay: float = WEBHOOK_MAX_DELAY) -> None:
        self.url = url
        self.shared = shared
        self.outbox = outbox if outbox is not None else Outbox()
        self.route = route or Route(url)
        self.format = self.route.resolved_format
        self.secret = self.route.secret or secret
        self.on_change = on_change
        self.max_delay = max_delay
        self.trouble = Trouble()
        self.delivered = 0
        self.dropped = 0
        self.attempts_failed = 0
        self._rejections: set[str] = set()  # reasons already logged at ERROR
        self._wake = asyncio.Event()
        self.base_label = (_apprise_label(url) if self.format is Format.APPRISE
                           else redact_url(url))
        self.label = self.base_label

    def reconfigure(self, route: Route, secret: str | None) -> None:
        """A reload's new route for the same URL: filters, format, quiet hours, digest and
        secret apply to what comes next; the outbox stays as it is."""
        self.route = route
        self.format = route.resolved_format
        self.secret = route.secret or secret

    def __call__(self, event: IncidentEvent) -> None:
        if not self.route.accepts(event):
            return
        urgent = self.route.urgent and event.kind is Kind.FEED_DOWN
        now = self.shared.clock.now()
        if not urgent and (self.route.digest or self.route.quiet_at(now)):
            if not self.outbox.held:
                self.outbox.held_since = now
            self.outbox.held.append(event)
            self._wake.set()
            return
        self._enqueue(Queued(event.event_id, render(self.url, self.format, [event])))

    def _enqueue(self, entry: Queued) -> None:
        queued = self.outbox.queued
        if len(queued) >= MAX_OUTBOX:
            # A receiver down for weeks must not grow the state file without end.
            dropped = queued.pop(0)
            self.dropped += 1
            log.error("webhook %s: %d events queued; dropped the oldest (%s)", self.label,
                      MAX_OUTBOX, dropped.event_id)
        queued.append(entry)
        self._wake.set()

    def flush_due_in(self, now: datetime) -> float | None:
        """Seconds until the held events are due to go out (0: now); None when none wait."""
        if not self.outbox.held:
            return None
        if self.route.quiet_at(now):
            return 30.0  # looked at again soon: the end of quiet hours is local wall time
        if self.route.digest is None:
            return 0.0
        since = self.outbox.held_since or now
        return max(0.0, (since - now).total_seconds() + self.route.digest)

    def flush(self, now: datetime) -> bool:
        """Turn the held events into one queued body if they are due; True if it did."""
        if self.flush_due_in(now) != 0.0:
            return False
        events, self.outbox.held, self.outbox.held_since = self.outbox.held, [], None
        event_id = events[0].event_id if len(events) == 1 else _digest_id(events)
        self._enqueue(Queued(event_id, render(self.url, self.format, events)))
        return True

    async def send_next(self) -> float | None:
        """Try the oldest queued body; None when it left the outbox, else the retry delay.

        Any failure, a network error or one nobody foresaw, is a failed attempt: the body
        stays first in the outbox and is tried again after the returned delay.
        """
        entry = self.outbox.queued[0]
        if self.format is Format.APPRISE:
            return await self._send_apprise(entry)
        url = ntfy_target(self.url)[0] if self.format is Format.NTFY else self.url
        proxy = self.shared.proxies.for_url(url)
        try:
            status, text, retry_after = await post_body(self.shared, url, entry.body.encode(),
                                                        self.secret)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return self._retry(connection_words(exc, proxy), None)
        except Exception as exc:
            log.debug("webhook %s: traceback", self.label, exc_info=exc)
            return self._retry(f"internal error while delivering: {exception_words(exc)}",
                               None)
        if 200 <= status < 300:
            self._delivered(entry)
            return None
        if status == 407 and proxy is not None:
            return self._retry(f"proxy {public_proxy(proxy)} refused the request: HTTP 407 "
                               "(proxy authentication required)", None)
        # Which one answered, the proxy or the receiver, cannot be told: both are named.
        said = f"HTTP {status}" + (f" (through proxy {public_proxy(proxy)})" if proxy else "")
        if status == 429 or status >= 500 or status == 408:
            return self._retry(said, retry_after)
        self._rejected(entry, said, clean_text(text)[:200])
        return None

    def _rejected(self, entry: Queued, reason: str, reply: str) -> None:
        """Any other reply rejects the body for good: retrying cannot help, and holding it
        would hold every later body behind it."""
        self.dropped += 1
        if reason not in self._rejections:
            self._rejections.add(reason)
            log.error("webhook %s: %s refuses the event for good, so it was dropped (further "
                      "drops for this reason are counted in the exit summary)%s", self.label,
                      reason, f"; it answered: {reply}" if reply else "")
        else:
            log.debug("webhook %s: %s, dropped event %s", self.label, reason, entry.event_id)
        self._settle(entry)

    async def _send_apprise(self, entry: Queued) -> float | None:
        """Apprise blocks: it runs in a daemon thread with a timeout; its failure is a
        failed attempt like any other."""
        try:
            payload = json.loads(entry.body)
            sent = await asyncio.wait_for(
                in_daemon_thread(_apprise_notify, (self.url, payload), pool="apprise"),
                APPRISE_TIMEOUT)
        except TimeoutError:
            return self._retry("timed out", None)
        except Exception as exc:
            return self._retry(f"Apprise failed: {exception_words(exc)}", None)
        if not sent:
            return self._retry("Apprise could not deliver", None)
        self._delivered(entry)
        return None

    def _delivered(self, entry: Queued) -> None:
        self._settle(entry)
        self.delivered += 1
        self.trouble.recover("webhook %s: delivering again", self.label)

    def _settle(self, entry: Queued) -> None:
        # By identity: while the POST was in flight, a full outbox may already have dropped
        # this entry, and popping blindly would then lose the next, undelivered one.
        queued = self.outbox.queued
        if queued and queued[0] is entry:
            queued.pop(0)

    def _retry(self, reason: str, retry_after: float | None) -> float:
        _, _, delay = next_health(Health(self.trouble.failures), Outcome(reason, retry_after),
                                  policy=RetryPolicy(0.0, self.max_delay), rng=self.shared.rng)
        self.attempts_failed += 1
        self.trouble.fail(reason, "webhook %s: %s; will retry", self.label, reason)
        return delay

    async def run(self, stop: asyncio.Event,
                  sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        """Deliver until `stop` is set."""
        wait = sleep or (lambda delay: _sleep_until(stop, delay))
        clock = self.shared.clock
        while not stop.is_set():
            if self.flush(clock.now()) and self.on_change is not None:
                await self.on_change()
            if not self.outbox.queued:
                due = self.flush_due_in(clock.now())
                self._wake.clear()
                if due is not None:
                    await _wait_event_or(self._wake, stop, due)
                else:
                    await _wait_either(self._wake, stop)
                continue
            delay = await self.send_next()
            if delay is None:
                if self.on_change is not None:
                    await self.on_change()
            else:
                await wait(delay)

    async def drain(self, deadline: float,
                    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Deliver what is pending until `deadline` (the clock's monotonic seconds); the rest
        stays queued (held events wait for their time, in the state file)."""
        clock = self.shared.clock
        self.flush(clock.now())
        while self.outbox.queued and clock.monotonic() < deadline:
            delay = await self.send_next()
            if delay is not None:
                await sleep(min(delay, max(0.0, deadline - clock.monotonic())))
            elif self.on_change is not None:
                await self.on_change()


class Fanout:
    """The callback main() installs: the console printer, then every webhook's outbox.

    Each target is on its own: one that raises (a closed stdout, a bug in a body builder)
    is logged and the event still reaches the others.
    """

    def __init__(self, targets: Sequence[Callable[[IncidentEvent], None]]) -> None:
        self.targets = targets

    def __call__(self, event: IncidentEvent) -> None:
        for target in self.targets:
            try:
                target(event)
            except Exception as exc:
                label = (getattr(target, "label", None) or getattr(target, "__name__", None)
                         or type(target).__name__)
                log.error("%s: could not take an event of kind %s from %s: %s", label, event.kind,
                          event.feed, clean_text(repr(exc))[:200])
                log.debug("output traceback", exc_info=exc)


# #### A feed's pipeline: the monitor and the scheduler ############################################


@dataclass(frozen=True, slots=True)
class FeedOptions:
    """Per-feed choices: the status API, which incidents to report, maintenance windows."""

    api: str = "auto"  # auto: use a Statuspage feed's JSON API; off: the feed alone
    api_url: str | None = None  # the page's base URL, where /api/v2/… lives
    filter: EventFilter = EventFilter()
    maintenance: bool = True
    components_url: str | None = None  # the page's component list, where known


Callback = Callable[[IncidentEvent], Awaitable[None] | None]


@dataclass(slots=True)
class FeedStats:
    polls: int = 0
    not_modified: int = 0
    bytes: int = 0
    parses: int = 0
    events: int = 0
    errors: int = 0
    modified: int = 0  # 200s that were parsed and read
    unchanged: int = 0  # 200s whose entries had not changed (not parsed)
    events_by_kind: dict[str, int] = field(default_factory=dict)
    last_success: float | None = None  # epoch seconds of the last good read

    def line(self, name: str, api_requests: int = 0) -> str:
        api = f", {plural(api_requests, 'API request')}" if api_requests else ""
        return (f"{name}: {plural(self.polls, 'poll')}, {self.not_modified} not modified (304), "
                f"{plural(self.bytes, 'byte')} received, {plural(self.parses, 'parse')}, "
                f"{plural(self.events, 'event')}, {plural(self.errors, 'error')}{api}")


class PollResult(typing.NamedTuple):
    """What one poll tells whoever schedules the next; true when the feed was read."""

    read: bool  # the feed was read (a 200 or a 304)
    delay: float  # seconds from this poll's start to the next
    gone: bool = False  # never poll again (HTTP 410)

    def __bool__(self) -> bool:
        return self.read


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs more, on every poll
class Read:
    """What one fetch of a feed came to: entries to decide on, or nothing new."""

    incidents: list[Incident] | None  # None: not modified, or a body read before
    etag: str | None  # the validators to send next time
    last_modified: str | None
    fresh_for: float | None
    fingerprint: str | None = None
    statuspage: bool = False  # its feed-level id is Statuspage's (an empty feed's only sign)
    components: list[Component] | None = None  # where the document lists them
    windows: dict[str, ApiIncident] | None = None  # maintenance, where the document lists it


class FeedReader:
    """Fetches one feed and reads it: conditional GETs with its validators, the fingerprint
    that spares a parse, parsing off the loop for large bodies, and the checks a read must
    pass (a feed that suddenly empties is an error until it persists)."""

    def __init__(self, name: str, url: str, shared: Shared, stats: FeedStats) -> None:
        self.name = name
        self.url = url  # where it is now: a permanent redirect moves it
        # Parsed once, not on every request: most of a quiet poll is aiohttp's own work.
        self._target = yarl.URL(url)
        self.shared = shared
        self.stats = stats
        self._earlier: tuple[str, ...] = ()  # fingerprints of earlier copies, newest last
        self._empty_streak = 0

    async def read(self, state: FeedState, *, now: datetime, threshold: int) -> Read:
        """One read of the feed, its validators and what it says; FeedError when it fails.

        Validators are refreshed from every 304 (RFC 9110 15.4.5) and every 200 that was
        read: a stale one never heals; but not from a body that failed to parse, which would
        earn a 304 next time and never be read whole.
        """
        shared = self.shared
        async with shared.limiter(self.url):
            result = await fetch(shared.session, self._target, state, now=now,
                                 max_body=shared.max_body, timeout=shared.timeout,
                                 proxy=shared.proxies.for_url(self.url))
        self._follow(result.moved_to)
        etag = result.etag or state.etag
        last_modified = result.last_modified or state.last_modified
        if result.body is None:
            self.stats.not_modified += 1
            return Read(None, etag, last_modified, result.fresh_for)
        self.stats.bytes += result.received
        fingerprint = body_fingerprint(result.body)
        if not state.first_sight and (fingerprint == state.fingerprint
                                      or fingerprint in self._earlier):
            # The feed-level date alone moved, or an earlier copy came again (a CDN edge
            # behind the others): it holds nothing newer than what was read from it then.
            self.stats.unchanged += 1
            return Read(None, etag, last_modified, result.fresh_for)
        doc = await self._parse(result.body, now)
        self._check_not_emptied(doc.incidents, state.entries, threshold)
        if state.fingerprint not in (None, fingerprint):
            self._earlier = (*self._earlier, state.fingerprint)[-EARLIER_COPIES:]
        self.stats.modified += 1
        return Read(doc.incidents, etag, last_modified, result.fresh_for, fingerprint,
                    _STATUSPAGE_FEED_ID.search(result.body, 0, 4096) is not None,
                    doc.components, doc.windows)

    def _follow(self, moved_to: str | None) -> None:
        if moved_to and moved_to != self.url:
            log.warning("%s: feed moved permanently to %s; polling the new address "
                        "(update your feed list)", self.name, public_url(moved_to))
            self.move_to(moved_to)

    async def rediscover(self, page: str, state: FeedState, now: datetime,
                         failure: FeedError) -> FeedState:
        """The address answered a web page, or the feed found on it is gone: read the feed
        found on the `page` from now on, and say once what was found. A feed found anew after
        one that worked (a vendor that moved to another platform) starts with a baseline:
        its incidents have new ids, not news."""
        try:
            discovery = await find_feed(self.shared, page, now)
        except FeedError:
            if not failure.html:
                raise failure from None  # nothing else found: the failure is the feed's own
            raise
        found = discovery.found
        if found.url == self.url:
            if not failure.html:
                raise failure  # the page still names it: its failure is the feed's own
            raise FeedError("not a feed: got an HTML page, whose feed is this same address")
        log.info("%s", discovery.line(self.name))
        self.move_to(found.url)
        return dataclasses.replace(state, found=found, etag=None, last_modified=None,
                                   fingerprint=None, entries=0, first_sight=True,
                                   statuspage=False)

    def move_to(self, url: str) -> None:
        """Poll another address from now on: where a redirect or a page's discovery leads."""
        self.url = url
        self._target = yarl.URL(url)
        self._earlier = ()

    async def _parse(self, body: bytes, now: datetime) -> PageDoc:
        self.stats.parses += 1
        job = (body, self.url, now)
        try:
            if len(body) > INLINE_PARSE_LIMIT:
                doc, spent = await in_daemon_thread(timed_read, job)
            else:
                doc, spent = timed_read(job)
        except FeedError:
            raise
        except Exception as exc:  # hostile bytes must not end this feed's watch
            log.debug("%s: parser traceback", self.name, exc_info=True)
            raise FeedError(f"could not parse the feed: {exception_words(exc, 160)}") from None
        self.shared.meter.add(spent)
        return doc

    def _check_not_emptied(self, incidents: list[Incident], had: int, threshold: int) -> None:
        # An empty feed is normal (Azure when all is well), but a sudden drop from N entries to
        # none is far more often a broken generator: trust it only once it persists.
        if incidents or not had:
            self._empty_streak = 0
            return
        self._empty_streak += 1
        if self._empty_streak < threshold:
            raise FeedError(f"feed suddenly has no entries (had {had})")
        log.warning("%s: feed has had no entries for %d reads; accepting that",
                    self.name, self._empty_streak)
        self._empty_streak = 0


def open_now(before: Sequence[Incident], incidents: Sequence[Incident], stale: frozenset[str],
             *, first: bool, news: bool) -> list[Incident]:
    """The open incidents the board shows after a read: an incident whose entry in this copy
    is older than what was reported keeps what was read before (at the first read of this
    process, `first`, nothing was: it waits for a fresh copy), and one missing from a copy
    that is older or brought no `news` is not gone; a copy with news lacking it too is
    believed (a page's feed keeps its newest incidents: one that left was pushed out or
    deleted)."""
    if first:
        return [i for i in incidents if i.active and not i.maintenance and i.id not in stale]
    kept = {i.id: i for i in before}
    shown = []
    for inc in incidents:
        if inc.id in stale:
            if (earlier := kept.get(inc.id)) is not None:
                shown.append(earlier)
        elif inc.active and not inc.maintenance:
            shown.append(inc)
    if stale or not news:
        present = {i.id for i in incidents}
        shown += [i for i in before if i.id not in present]
    return shown


def advance(state: FeedState, read: Read, *, now: datetime, history: int
            ) -> tuple[Decision, FeedState]:
    """What to report of a read with entries, and the feed's state after it."""
    incidents = read.incidents or []
    decision = decide(state.known, incidents, first_sight=state.first_sight, now=now,
                      history=history)
    statuspage = state.statuspage or read.statuspage or any(i.code for i in incidents)
    return decision, dataclasses.replace(
        state, known=decision.known, first_sight=False, fingerprint=read.fingerprint,
        entries=len(incidents), statuspage=statuspage, etag=read.etag,
        last_modified=read.last_modified)


class StatuspageEnricher:
    """What a Statuspage page's JSON API adds to its feed: the components and impact of each
    event, each maintenance window's phases, and the components' states for the metrics.
    The feed is known for Statuspage's by its entries and feed id, never by host name."""

    def __init__(self, name: str, shared: Shared, options: FeedOptions, retry: float) -> None:
        self.name = name
        self.shared = shared
        self.options = options
        self.retry = retry  # how long a failing API is left alone
        self.api: StatuspageApi | None = None
        self._decided = False
        self._api_found = False  # api_url is discovery's, not the config's
        self.components: dict[str, str] = {}  # name -> status key, where known
        self.windows: dict[str, ApiIncident] = {}  # maintenance a page's document lists

    def reconfigure(self, name: str, options: FeedOptions, retry: float) -> None:
        if self._api_found and options.api_url is None:
            # The config names no API: the one the page's discovery found stays.
            options = dataclasses.replace(options, api_url=self.options.api_url)
        if (options.api, options.api_url) != (self.options.api, self.options.api_url):
            self.api, self._decided = None, False  # decided again at the next read
        self.name, self.options, self.retry = name, options, retry

    def use_api(self, base: str | None) -> None:
        """The API a page's discovery found (None: none, as when a vendor moved to another
        platform), decided again at the next read; an api_url the config gives stands."""
        if self.options.api_url is not None and not self._api_found:
            return
        self.options = dataclasses.replace(self.options, api_url=base)
        self._api_found = base is not None
        self.api, self._decided = None, False

    def components_where(self, state: FeedState) -> str | None:
        """Where the page lists its components: the config's or the catalogue's address,
        the one discovery found, or a Statuspage page's summary."""
        return (self.options.components_url or (state.found.components if state.found else None)
                or (f"{self.api.base}/api/v2/summary.json" if self.api else None))

    async def components_beside(self, state: FeedState, polled: str, now: datetime
                                ) -> list[Component] | None:
        """A feed changed whose document names no component states (Status.io's RSS, or a
        feed whose config gives components_url): the page's component list, read beside it,
        for the board, the metrics and the history; None where none is known or it cannot be
        read now. A Statuspage feed's
        API gives its incidents' components already, at two requests a change at most."""
        where = self.components_where(state)
        if where is None or where == polled or state.statuspage or self.options.api_url:
            return None
        listed = await component_list(self.shared, where, now)
        if listed is not None:
            self.components = {c.name: c.status for c in listed if c.status}
        return listed

    async def check_names(self, listed: list[Component] | None, state: FeedState,
                          now: datetime) -> None:
        """Once, at the first read: a component the filter names that the page does not have
        gets one warning with the nearest it does have (a typo filters out every incident)."""
        where = self.components_where(state)
        if listed is None and where is not None:
            listed = await component_list(self.shared, where, now)
        for warning in unknown_components(self.name, self.options.filter.components,
                                          listed or []):
            log.warning("%s", warning)

    def api_for(self, state: FeedState, url: str) -> StatuspageApi | None:
        """The page's JSON API, once the feed shows itself to be Statuspage's or the config
        names the API (api_url); None until then, or for any other feed."""
        if self._decided or self.options.api == "off":
            return self.api
        if not (self.options.api_url or state.statuspage):
            return None  # nothing to judge by yet (an empty feed), or not Statuspage
        self._decided = True
        base = self.options.api_url or api_base(url)
        if base is None:
            log.info("%s: a Statuspage feed, but where its API lives is unknown (set api_url); "
                     "events come from the feed alone", self.name)
            return None
        self.api = StatuspageApi(base.rstrip("/"), self.name, retry=self.retry,
                                 proxies=self.shared.proxies)
        return self.api

    def maintenance_due(self, state: FeedState, url: str, now: datetime) -> bool:
        """A quiet feed's maintenance list is read at most every 10 minutes; the last try is
        in the state file, so cron mode keeps to that across runs too."""
        if not self.options.maintenance or self.api_for(state, url) is None:
            return False
        tried = state.maintenances_tried
        return tried is None or (now - tried).total_seconds() >= MAINTENANCE_REFRESH

    async def after_read(self, state: FeedState, changes: list[tuple[Kind, Incident]],
                         url: str, now: datetime) -> tuple[list[tuple[Kind, Incident]],
                                                           FeedState]:
        """The events of a read: maintenance phases first, then the feed's own, enriched and
        filtered; and the state with what the maintenance list said."""
        api = self.api_for(state, url)
        events: list[tuple[Kind, Incident]] = []
        windows = None
        if api is not None and self.options.maintenance:
            events, state, windows = await self.maintenance(state, api, now)
        reported, phases = await self._enriched(changes, api, now, windows)
        if phases and state.maintenances is not None:
            state = dataclasses.replace(state, maintenances={**state.maintenances, **phases})
        return events + reported, state

    def listed_windows(self, state: FeedState, windows: Mapping[str, ApiIncident],
                       now: datetime) -> tuple[list[tuple[Kind, Incident]], FeedState]:
        """The phases of the maintenance windows a page's own document lists (platforms
        other than Statuspage), each said once, as the API's are."""
        if not self.options.maintenance:
            return [], state
        events, known = maintenance_events(state.maintenances, windows, now=now)
        self.windows = dict(windows)
        return ([(kind, window) for kind, window in events if self.options.filter.passes(window)],
                dataclasses.replace(state, maintenances=known, maintenances_tried=now))

    async def maintenance(self, state: FeedState, api: StatuspageApi, now: datetime
                          ) -> tuple[list[tuple[Kind, Incident]], FeedState,
                                     dict[str, ApiIncident] | None]:
        """Read the maintenance list: each window's new phases as events, the state with them
        remembered, and the windows read (None when the list could not be read now)."""
        state = dataclasses.replace(state, maintenances_tried=now)
        shared = self.shared
        windows = await api.read(api.maintenances, shared.session, shared.limiter, now=now,
                                 clock=shared.clock.monotonic())
        if windows is None:
            return [], state, None
        events, known = maintenance_events(state.maintenances, windows, now=now)
        return ([(kind, window) for kind, window in events if self.options.filter.passes(window)],
                dataclasses.replace(state, maintenances=known), windows)

    async def _enriched(self, changes: list[tuple[Kind, Incident]], api: StatuspageApi | None,
                        now: datetime, windows: Mapping[str, ApiIncident] | None
                        ) -> tuple[list[tuple[Kind, Incident]], dict[str, tuple[Phase, datetime]]]:
        """Components and impact from the API, then this feed's filter; and the phases of the
        maintenance windows reported from the feed.

        A feed entry for a maintenance window that the maintenance list just read reports
        (`windows`) is left to the maintenance events, and so are all of them when maintenance
        is muted. When the list could not be read, the feed's step goes out as it is, and its
        phase is remembered so the list does not say it again later.
        """
        data = await self._incidents(api, now) if any(i.code for _, i in changes) else None
        covered = {code for code, w in (windows or {}).items() if Phase.of(w.status)}
        reported, phases = [], {}
        for kind, inc in changes:
            if data is not None and inc.code:
                inc = enrich(inc, data.get(inc.code))
            if (inc.code and inc.code in covered) or (inc.maintenance
                                                      and not self.options.maintenance):
                log.debug("%s: %s is a maintenance window; not reported as an incident",
                          self.name, inc.id)
            elif not self.options.filter.passes(inc):
                log.debug("%s: %s left out by the filter", self.name, inc.id)
            else:
                if inc.maintenance and inc.code and (phase := Phase.of(inc.status)):
                    phases[inc.code] = (phase, now)
                reported.append((kind, inc))
        return reported, phases

    async def read_incidents(self, state: FeedState, url: str, now: datetime) -> None:
        """The API's incidents now, for the board's impact and components, when the feed
        gave no event that would have asked (a restart)."""
        await self._incidents(self.api_for(state, url), now)

    async def _incidents(self, api: StatuspageApi | None, now: datetime
                         ) -> dict[str, ApiIncident] | None:
        if api is None:
            return None
        shared = self.shared
        data = await api.read(api.incidents, shared.session, shared.limiter, now=now,
                              clock=shared.clock.monotonic())
        if data:
            self.note_components((a.updates[-1].at if a.updates else None, a.components)
                                 for a in data.values())
        return data

    async def probe(self, now: datetime) -> None:
        """Ask a failing API again once its time has come, so that enrichment is back before
        the next event needs it."""
        if self.api is None:
            return
        shared = self.shared
        for source in self.api.retry_due(shared.clock.monotonic()):
            await self.api.read(source, shared.session, shared.limiter, now=now,
                                clock=shared.clock.monotonic())

    def note_components(self, labelled: Iterable[tuple[datetime | None, Sequence[str]]]
                        ) -> None:
        """Each component's latest known status from (time, labels) pairs (incident.io names
        them in the feed; for Statuspage the API does), the newest last so that it wins."""
        for _, labels in sorted(labelled, key=lambda pair: pair[0] or _NO_TIME):
            for label in labels:
                if (state := label_state(label)) and state[1] in _COMPONENT_STATUS:
                    self.components[state[0]] = state[1]


class Keeper(typing.Protocol):
    """Where a monitor hands its feed's new state: the state store."""

    def polled_at(self, url: str, when: datetime) -> None: ...

    async def changed(self, url: str, state: FeedState, save: bool = True) -> None: ...


class StatusPageMonitor:
    """One feed's pipeline: read it, decide what changed, enrich, report, pace the next poll.
    Its own failures never escape a poll; what it remembers goes to the state store, one new
    state per poll that changed it."""

    def __init__(self, name: str, url: str, shared: Shared | aiohttp.ClientSession,
                 on_incident_update: Callback | None = None, *,
                 policy: RetryPolicy = RetryPolicy(DEFAULT_INTERVAL, DEFAULT_MAX_INTERVAL),
                 options: FeedOptions = FeedOptions(), history: int = 0,
                 state: FeedState | None = None, store: Keeper | None = None,
                 start_spread: float = START_SPREAD) -> None:
        self.name = name
        self.key = url  # the feed as configured: its place in the state file
        self.shared = shared if isinstance(shared, Shared) else Shared(shared)
        self.on_incident_update = on_incident_update or ConsolePrinter()
        self.policy = policy
        self.history = history
        self.state = state or FeedState()
        self.store = store
        self.start_spread = start_spread
        self.stats = FeedStats()
        self.reader = FeedReader(name, url, self.shared, self.stats)
        self.enricher = StatuspageEnricher(name, self.shared, options, self._api_retry())
        self.trouble = Trouble()
        # The open incidents of the last read, for the status board; the whole read is not
        # kept (50 KB of text per feed).
        self.incidents: list[Incident] = []
        self.polled_hooks: list[Callable[[StatusPageMonitor], None]] = []  # after each poll
        self._read_once = False  # whether self.incidents comes from a read of this process
        # Set by a page that shows what is open: the first poll of this process then reads
        # the feed whole (no validators, no fingerprint), since after a restart a 304 says
        # nothing of what is open now.
        self.shows_board = False
        if self.state.found is not None:  # found at an earlier start: not looked for again
            self.reader.move_to(self.state.found.url)
            self.enricher.use_api(self.state.found.api)
        self._names_checked = False  # the filter's component names against the page's

    def _api_retry(self) -> float:
        # Never left alone longer than a poll may wait: enrichment is back within
        # --max-interval of the API answering again.
        return min(API_RETRY, self.policy.max_interval)

    def reconfigure(self, name: str, *, policy: RetryPolicy, history: int,
                    options: FeedOptions, limiter: HostLimiter) -> None:
        """A reload's new settings for the same feed: they apply from its next poll."""
        self.name = self.reader.name = name
        self.policy, self.history = policy, history
        self.shared = dataclasses.replace(self.shared, limiter=limiter)
        self.reader.shared = self.enricher.shared = self.shared
        self.enricher.reconfigure(name, options, self._api_retry())

    url = property(lambda self: self.reader.url, doc="Where the feed is now.")
    options = property(lambda self: self.enricher.options, doc="The feed's own choices.")
    api = property(lambda self: self.enricher.api, doc="Its Statuspage API, once known.")
    components = property(lambda self: self.enricher.components,
                          doc="Each component's status key, where known.")
    failing_reason = property(lambda self: self.trouble.reason,
                              doc="Why its last poll failed (None: it did not).")
    failures = property(lambda self: self.state.failures, doc="Failed polls in a row.")
    down = property(lambda self: self.state.down, doc="A feed_down was said, no recovery yet.")

    async def poll(self) -> PollResult:
        """Poll once, report what changed, and say when to poll next.

        Whatever goes wrong in this one poll, expected (network, HTTP, a bad feed) or not (a
        bug that odd input set off), is one failed poll: reported, counted toward feed_down
        and retried with backoff. It never ends the watch.
        """
        self.stats.polls += 1
        try:
            return await self._poll()
        finally:
            for hook in self.polled_hooks:
                hook(self)

    async def _poll(self) -> PollResult:
        now = self.shared.clock.now()
        state = self.state
        events: list[tuple[Kind, Incident]] = []
        unexpected: BaseException | None = None
        try:
            state, events, fresh_for = await self._read(state, now)
            outcome = Outcome(fresh_for=fresh_for)
        except FeedError as exc:
            state = exc.state or state
            outcome = Outcome(str(exc), retry_after=exc.retry_after, gone=exc.gone)
        except Exception as exc:
            outcome = Outcome(f"internal error while polling: {exception_words(exc)}")
            unexpected = exc
        return await self._settle(state, events, outcome, unexpected, now)

    async def _read(self, state: FeedState, now: datetime
                    ) -> tuple[FeedState, list[tuple[Kind, Incident]], float | None]:
        """Read the feed and what the API adds: the state after it, the events to report."""
        asked = state
        if self.shows_board and not self._read_once and not state.first_sight:
            asked = dataclasses.replace(state, etag=None, last_modified=None, fingerprint=None)
        try:
            read = await self.reader.read(asked, now=now, threshold=self.policy.failure_threshold)
        except FeedError as exc:
            # A web page came, or the feed a page named is no longer there: look at the page.
            if not (exc.html or (exc.missing and state.found and self.url != self.key)):
                raise
            state = await self.reader.rediscover(self.key, state, now, exc)
            self.enricher.use_api(state.found.api if state.found else None)
            try:
                read = await self.reader.read(state, now=now,
                                              threshold=self.policy.failure_threshold)
            except FeedError as failure:
                failure.state = state  # polled from now on: its baseline is still to come
                raise
        if self.store is not None:
            self.store.polled_at(self.key, now)
        events: list[tuple[Kind, Incident]] = []
        enricher = self.enricher
        if read.incidents is not None:
            events, state = await self._news(state, read, read.incidents, now)
        else:
            if (read.etag, read.last_modified) != (state.etag, state.last_modified):
                state = dataclasses.replace(state, etag=read.etag,
                                            last_modified=read.last_modified)
            if enricher.maintenance_due(state, self.url, now) and enricher.api is not None:
                # A quiet feed: maintenance windows still start and end on their own.
                events, state, _ = await enricher.maintenance(state, enricher.api, now)
        await enricher.probe(now)
        return state, events, read.fresh_for

    async def _enriched(self, state: FeedState, changes: list[tuple[Kind, Incident]],
                        now: datetime) -> tuple[list[tuple[Kind, Incident]], FeedState]:
        try:
            return await self.enricher.after_read(state, changes, self.url, now)
        except Exception as exc:
            # What the feed says is already remembered: it must go out, API or not.
            log.error("%s: components and filters could not be applied (%s); reporting from "
                      "the feed alone", self.name, exception_words(exc), exc_info=exc)
            return changes, state

    async def _news(self, state: FeedState, read: Read, incidents: list[Incident],
                    now: datetime) -> tuple[list[tuple[Kind, Incident]], FeedState]:
        """A read with entries: what is news, enriched and filtered; the open incidents and
        the components' states for the board; the page's maintenance list where it has one."""
        enricher = self.enricher
        first_here = not self._read_once
        decision, state = advance(state, read, now=now, history=self.history)
        self._baseline_said(state, incidents)
        self.incidents = open_now(self.incidents, incidents, decision.stale, first=first_here,
                                  news=bool(decision.events))
        self._read_once = True
        state = dataclasses.replace(state, open_incidents=len(self.incidents))
        enricher.note_components((_sort_key(i), i.components) for i in incidents)
        listed = read.components
        if listed is not None:
            enricher.components = {c.name: c.status for c in listed if c.status}
        else:
            listed = await enricher.components_beside(state, self.url, now)
        events, state = await self._enriched(state, decision.events, now)
        if first_here and self.shows_board and not decision.events and any(
                i.code and i.active for i in incidents):
            await enricher.read_incidents(state, self.url, now)  # impact after a restart
        if not self._names_checked and self.options.filter.components:
            self._names_checked = True
            await enricher.check_names(listed, state, now)
        if read.windows is not None:
            windows, state = enricher.listed_windows(state, read.windows, now)
            events = windows + events
        return events, state

    def _baseline_said(self, state: FeedState, incidents: Sequence[Incident]) -> None:
        if self.state.first_sight and not state.first_sight:
            active = sum(1 for i in incidents if i.active)
            log.info("%s: %s, %d active", self.name, plural(len(incidents), "incident"), active)

    async def _settle(self, state: FeedState, events: list[tuple[Kind, Incident]],
                      outcome: Outcome, unexpected: BaseException | None, now: datetime
                      ) -> PollResult:
        """Apply the health policy to one poll's outcome: say it, report the events it
        brought and its health events, keep the new state, and return when to poll next."""
        read_changed = state is not self.state
        before = Health(state.failures, state.down)
        health, health_events, delay = next_health(before, outcome, policy=self.policy,
                                                   rng=self.shared.rng)
        self._say(outcome.error, before.failures, unexpected)
        if health != before:
            state = dataclasses.replace(state, failures=health.failures, down=health.down)
        if outcome.error is None:
            self.stats.last_success = now.timestamp()
        else:
            self.stats.errors += 1
        for kind, incident in events:
            await self._emit(IncidentEvent(self.name, kind, incident))
        for kind in health_events:
            await self._emit(IncidentEvent(self.name, kind, error=outcome.error, at=now))
        if state is not self.state:
            # What a read changed is written at once; a failure count goes with the next
            # write, unless the feed just went down.
            self.state = state
            if self.store is not None:
                await self.store.changed(self.key, state,
                                         save=read_changed or Kind.FEED_DOWN in health_events)
        return PollResult(outcome.error is None, delay, outcome.gone)

    def _say(self, reason: str | None, failures: int, unexpected: BaseException | None) -> None:
        if reason is None:
            if self.trouble.reason is not None:
                self.trouble.recover("%s: reading again after %s", self.name,
                                     plural(failures, "failed poll"))
        else:
            # An unforeseen error's traceback is logged once, so the bug can be found; the
            # watch goes on regardless.
            self.trouble.fail(reason, "%s: %s", self.name, reason,
                              level=logging.ERROR if unexpected else logging.WARNING,
                              exc_info=unexpected)

    async def _emit(self, event: IncidentEvent) -> None:
        self.stats.events += 1
        self.stats.events_by_kind[event.kind] = self.stats.events_by_kind.get(event.kind, 0) + 1
        try:
            outcome = self.on_incident_update(event)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception as exc:  # a broken callback must not stop the watching
            log.error("%s: callback failed on an event of kind %s: %s", self.name, event.kind,
                      exception_words(exc))
            log.debug("callback traceback", exc_info=True)

    @property
    def cold(self) -> bool:
        """Never read yet: its first read parses the whole feed."""
        return self.state.first_sight

    def first_delay(self) -> float:
        """A random offset for the first poll, so feeds do not all start in one burst."""
        return self.shared.rng.uniform(0, min(self.policy.interval, self.start_spread))


class Pollable(typing.Protocol):
    """What the scheduler drives: a monitor, or a test's stand-in."""

    name: str
    failing_reason: str | None

    @property
    def cold(self) -> bool: ...

    def first_delay(self) -> float: ...

    async def poll(self) -> PollResult: ...


class Cancellable(typing.Protocol):
    def cancel(self) -> None: ...


class MonitorCrash(Exception):
    """A poll ended in an exception that its own supervision did not catch: a bug."""

    def __init__(self, feed: str, cause: BaseException) -> None:
        super().__init__(f"{feed}: {cause!r}")
        self.feed = feed
        self.cause = cause


class Scheduler:
    """Every feed's polls on one timer.

    Each feed keeps its own schedule (interval, jitter, backoff, Retry-After, max-age, the
    start spread), counted from the start of its last poll, but polls that fall due within
    the same SLOT start together on one wakeup: one timer and one task switch per slot
    instead of a timer, a wait_for and an Event waiter per poll. A poll starts within one slot
    of when it is due (early by up to a slot, since a wakeup starts all that fall due before
    the next), and a stop wakes the scheduler at once.
    """

    def __init__(self, monitors: Sequence[Pollable], *, slot: float = SLOT,
                 clock: Callable[[], float] | None = None,
                 call_at: Callable[[float, Callable[[], None]], Cancellable] | None = None,
                 meter: ParseMeter | None = None) -> None:
        self.monitors = monitors
        self.slot = slot
        self._clock = clock
        self._call_at = call_at
        self._due: list[tuple[float, int, Pollable]] = []
        self._seq = 0
        self._wake: asyncio.Future[None] | None = None
        self._planned = math.inf  # when the scheduler means to wake next
        self.wakeups = 0  # for tests and the bench
        # First reads wait here for their share of parse time (with a meter only).
        self.meter = meter
        self._cold: collections.deque[Pollable] = collections.deque()
        self._budget = COLD_BURST  # seconds of parsing first reads may still start
        self._budget_at: float | None = None
        self._spent_seen = 0.0
        self._removed: set[int] = set()  # ids of monitors a reload took away
        self._now: Callable[[], float] | None = None  # the clock, while running
        self._running: set[asyncio.Task[None]] = set()  # polls in flight
        self._crashed: list[MonitorCrash] = []

    def _may_start_cold(self, now: float) -> bool:
        """Whether a first read may start now: parse time is a budget refilled at COLD_SHARE
        of the clock, charged a guess when a first read starts and what parses really cost
        when they end (the guess is given back then)."""
        meter = self.meter
        if meter is None:
            return True
        elapsed = 0.0 if self._budget_at is None else now - self._budget_at
        self._budget = min(COLD_BURST, self._budget + COLD_SHARE * elapsed
                           - (meter.spent - self._spent_seen))
        self._budget_at, self._spent_seen = now, meter.spent
        return self._budget > 0

    def _nudge(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def add(self, monitor: Pollable) -> None:
        """A feed to poll from now on (a reload added it): first after its start offset."""
        if self._now is None:
            self.monitors = [*self.monitors, monitor]
        else:
            self._push(self._now() + monitor.first_delay(), monitor)

    def remove(self, monitor: Pollable) -> None:
        """A feed not to poll again (a reload took it away); a poll in flight ends as usual."""
        self._removed.add(id(monitor))

    def _push(self, due: float, monitor: Pollable) -> None:
        self._seq += 1
        heapq.heappush(self._due, (due, self._seq, monitor))
        if due < self._planned:
            self._nudge()  # due sooner than the timer that is set: look again

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set or every feed is gone; raise MonitorCrash on a bug."""
        loop = asyncio.get_running_loop()
        clock = self._now = self._clock or loop.time
        call_at = self._call_at or (lambda when, callback: loop.call_at(when, callback))
        now = clock()
        for monitor in self.monitors:
            self._push(now + monitor.first_delay(), monitor)
        stopper = loop.create_task(stop.wait())
        stopper.add_done_callback(lambda _: self._nudge())
        try:
            while not stop.is_set() and not self._crashed:
                now = clock()
                for monitor, guess in self._due_now(now):
                    task = loop.create_task(self._poll(monitor, guess, clock),
                                            name=monitor.name)
                    self._running.add(task)
                    task.add_done_callback(self._finished)
                if not self._due and not self._running and not self._cold:
                    return  # every feed is gone (HTTP 410)
                await self._sleep(loop, call_at, now)
            if self._crashed:
                raise self._crashed[0]
        finally:
            stopper.cancel()
            for task in self._running:
                task.cancel()
            await asyncio.gather(stopper, *self._running, return_exceptions=True)

    def _due_now(self, now: float) -> list[tuple[Pollable, float]]:
        """The polls to start on this wakeup: every feed due within the slot, and the first
        reads that parse time allows (each with the parse time it was charged)."""
        horizon = now + self.slot
        starting: list[tuple[Pollable, float]] = []
        while self._due and self._due[0][0] <= horizon:
            monitor = heapq.heappop(self._due)[2]
            if id(monitor) in self._removed:
                self._removed.discard(id(monitor))
            elif self.meter is not None and monitor.cold:
                self._cold.append(monitor)
            else:
                starting.append((monitor, 0.0))
        while self._cold and self._may_start_cold(now):
            cold = self._cold.popleft()
            if id(cold) in self._removed:
                self._removed.discard(id(cold))
                continue
            guess = min(1.0, self.meter.average) if self.meter else PARSE_GUESS
            self._budget -= guess
            starting.append((cold, guess))
        return starting

    async def _poll(self, monitor: Pollable, guess: float, clock: Callable[[], float]) -> None:
        started = clock()
        try:
            result = await monitor.poll()
        except Exception as exc:  # poll() catches its own failures: this is a bug
            self._crashed.append(MonitorCrash(monitor.name, exc))
            self._nudge()
            raise
        finally:
            if guess:
                self._budget += guess  # what it really cost is in the meter now
                if self._cold:
                    self._nudge()
        if result.gone:
            log.error("%s: stopped watching: %s", monitor.name, monitor.failing_reason)
        elif id(monitor) in self._removed:
            self._removed.discard(id(monitor))
        else:
            # Counted from the start of the poll: time spent queueing behind other feeds in
            # a busy loop must not stretch every period beyond the interval.
            self._push(started + result.delay, monitor)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not self._due and not self._running and not self._cold:
            self._nudge()  # the last feed is gone

    async def _sleep(self, loop: asyncio.AbstractEventLoop,
                     call_at: Callable[[float, Callable[[], None]], Cancellable],
                     now: float) -> None:
        """Until the next poll is due (or the next slot, while first reads wait for parse
        time), a poll ends in a way that matters, or a stop."""
        self._wake = loop.create_future()
        self._planned = self._due[0][0] if self._due else math.inf
        if self._cold:
            self._planned = min(self._planned, now + self.slot)
        timer = call_at(self._planned, self._nudge) if self._planned < math.inf else None
        try:
            await self._wake
        finally:
            if timer is not None:
                timer.cancel()
            self._planned = math.inf
        self.wakeups += 1


# #### Serving: /metrics, /healthz, /readyz, /status ###############################################


POLL_RESULTS = ("modified", "not_modified", "unchanged", "error")


def _label(value: str) -> str:
    """A label value as the exposition format wants it: backslash, quote, newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Routed(typing.Protocol):
    """What serves pages beside the metrics (the Site): it adds its routes to the app."""

    def routes(self, app: web.Application) -> None: ...


class Monitoring:
    """What the tracker knows of itself, as Prometheus metrics and health endpoints; served
    read-only on the same event loop by aiohttp.web."""

    def __init__(self, monitors: Sequence[StatusPageMonitor],
                 senders: Sequence[WebhookSender], *, clock: Clock, lines: bool = True) -> None:
        """`lines`: build every feed's metric lines now and keep them current after each
        poll (with --metrics); otherwise only on the first render(), since for a large fleet
        they hold megabytes that nobody reads without --metrics."""
        self.monitors = monitors
        self.senders = senders
        self.clock = clock
        self.dead: str | None = None  # the task that died, if one did
        self.bound: tuple[str, int] | None = None  # where it listens, once started
        self.site: Routed | None = None  # the page and its feeds, served beside the metrics
        self._feed_labels: dict[int, str] = {}
        self._prefixes: list[tuple[str, str, str, str, str, str, str]] = []
        self._lines: list[tuple[str, str, str, str, str, str, str]] = []
        self._component_blocks: dict[int, tuple[dict[str, str], list[str]]] = {}
        self._index: dict[int, int] = {}
        self._built = False
        if lines:
            self._build_lines()

    def _build_lines(self) -> None:
        monitors = self.monitors
        self._built = True
        self._feed_labels = {id(m): f'feed="{_label(m.name)}"' for m in monitors}
        # Per feed, the start of each of its lines, and its component lines with the component
        # states they were made from: a scrape is about ten lines a feed, and formatting
        # every label anew would make a large fleet's scrape slow.
        self._prefixes = [self._line_starts(self._feed_labels[id(m)]) for m in monitors]
        # Each feed's lines are built at the end of its poll (only with --metrics) and all of
        # them once now, so a scrape only puts finished lines together.
        self._index = {id(m): i for i, m in enumerate(monitors)}
        self._lines = []
        for i, m in enumerate(monitors):
            m.polled_hooks.append(self._refresh)
            self._lines.append(self._feed_lines(m, self._prefixes[i]))
            self._component_lines(m)

    def replace(self, monitors: Sequence[StatusPageMonitor],
                senders: Sequence[WebhookSender]) -> None:
        """The monitors and senders after a reload: every line is built again (names and
        intervals may have changed), the departed ones' are gone."""
        for m in self.monitors:
            with contextlib.suppress(ValueError):
                m.polled_hooks.remove(self._refresh)
        self.monitors, self.senders = monitors, senders
        self._component_blocks = {}
        if self._built:
            self._build_lines()

    def _refresh(self, m: StatusPageMonitor) -> None:
        """At the end of each poll: that feed's lines, so that a scrape only assembles."""
        i = self._index.get(id(m))
        if i is None:
            return  # a poll that was in flight when a reload took its feed away
        self._lines[i] = self._feed_lines(m, self._prefixes[i])
        self._component_lines(m)

    def render(self) -> str:
        """The whole exposition (text format 0.0.4): HELP and TYPE once per family, then its
        samples. One pass over the feeds fills every family's list of lines from lines
        prebuilt at the end of each poll."""
        if not self._built:
            self._build_lines()
        per_feed: list[list[str]] = [[] for _ in range(len(POLL_FAMILIES))]
        components: list[str] = []
        blocks = self._component_blocks
        for m, cached in zip(self.monitors, self._lines, strict=True):
            for family, line in zip(per_feed, cached, strict=True):
                if line:
                    family.append(line)
            if (block := blocks.get(id(m))) is not None:
                components += block[1]
        samples = [[f'status_tracker_build_info{{version="{_label(__version__)}"}} 1'],
                   *per_feed, components, *self._webhook_lines()]
        out: list[str] = []
        for (name, kind, help_text), lines in zip(METRIC_FAMILIES, samples, strict=True):
            out.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}")
            out += lines
        out.append("")
        return "\n".join(out)

    def _webhook_lines(self) -> tuple[list[str], list[str]]:
        """The outbox and delivery lines of every route."""
        routes = [f'webhook="{_label(s.label)}",route="{i}"' for i, s in enumerate(self.senders)]
        outbox = [f"status_tracker_webhook_outbox_events{{{label}}} {len(s.outbox)}"
                  for label, s in zip(routes, self.senders, strict=True)]
        deliveries = [f'status_tracker_webhook_deliveries_total{{{label},result="{result}"}} '
                      f"{count}"
                      for label, s in zip(routes, self.senders, strict=True)
                      for result, count in (("delivered", s.delivered), ("dropped", s.dropped),
                                            ("failed", s.attempts_failed))]
        return outbox, deliveries

    def _feed_lines(self, m: StatusPageMonitor, templates: tuple[str, ...]
                    ) -> tuple[str, str, str, str, str, str, str]:
        """One feed's lines of each per-feed family ("" where it has none yet)."""
        up_, last_, polls_, parses_, bytes_, kind_, open_ = templates
        stats, state = m.stats, m.state
        return (
            up_ % (0 if state.failures else 1) if stats.polls else "",
            last_ % stats.last_success if stats.last_success is not None else "",
            polls_ % (stats.modified, stats.not_modified, stats.unchanged, stats.errors),
            parses_ % stats.parses,
            bytes_ % stats.bytes,
            "\n".join(kind_ % (kind, n) for kind, n in stats.events_by_kind.items()),
            open_ % state.open_incidents if not state.first_sight else "",
        )

    @staticmethod
    def _line_starts(feed: str) -> tuple[str, str, str, str, str, str, str]:
        """Each per-feed family's lines as a %-template, in the order render() uses them:
        one format call per family and feed (the four poll lines in one)."""
        feed = feed.replace("%", "%%")
        return (
            f"status_tracker_feed_up{{{feed}}} %d",
            f"status_tracker_feed_last_success_timestamp_seconds{{{feed}}} %d",
            "\n".join(f'status_tracker_polls_total{{{feed},result="{r}"}} %d'
                      for r in POLL_RESULTS),
            f"status_tracker_parses_total{{{feed}}} %d",
            f"status_tracker_bytes_received_total{{{feed}}} %d",
            f'status_tracker_events_total{{{feed},kind="%s"}} %d',
            f"status_tracker_open_incidents{{{feed}}} %d",
        )

    def _component_lines(self, m: StatusPageMonitor) -> None:
        """A feed's one-hot component lines, made again only when a status changed."""
        cached = self._component_blocks.get(id(m))
        if not m.components or (cached is not None and cached[0] == m.components):
            return
        lines = []
        for component, current in m.components.items():
            prefix = (f"status_tracker_component_status{{{self._feed_labels[id(m)]},"
                      f'component="{_label(component)}",status="')
            lines += [f'{prefix}{status}"}} {1 if status == current else 0}'
                      for status in _COMPONENT_STATUS]
        self._component_blocks[id(m)] = (dict(m.components), lines)

    def board(self) -> dict[str, Any]:
        """/status: the status board from what the watch knows, no extra request."""
        now = self.clock.now()
        return board_to_dict(self.entries(now), now=now)

    def entries(self, now: datetime) -> list[BoardEntry]:
        """Each feed's board entry, in the monitors' order."""
        entries = []
        for m in self.monitors:
            # Neither read nor failed in this run: its first poll has not ended.
            unread = m.stats.last_success is None and not m.stats.errors
            entry = BoardEntry(m.name, error=NOT_YET if unread else
                               m.failing_reason if m.failures else None)
            api = m.api.incidents.data if m.api is not None else None
            entry.incidents = [enrich(_reported(i), (api or {}).get(i.code))
                               for i in m.incidents]
            entry.components = [(name, status_word(key)) for name, key in m.components.items()
                                 if key != "operational"]
            if m.api is not None and m.options.maintenance and m.api.maintenances.data:
                entry.maintenance = board_windows(m.api.maintenances.data, now)
            elif m.options.maintenance and m.enricher.windows:
                entry.maintenance = board_windows(m.enricher.windows, now)
            entry.watcher_failures = m.failures
            entries.append(entry)
        return entries

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.render().encode(),
                            headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def healthz(self, request: web.Request) -> web.Response:
        # A provider being down is not ill health (that is feed_up); a dead task is.
        if self.dead is not None:
            return web.Response(status=503, text=f"a task died: {self.dead}\n")
        return web.Response(text="ok\n")

    async def readyz(self, request: web.Request) -> web.Response:
        waiting = sum(1 for m in self.monitors if not m.stats.polls)
        if waiting:
            return web.Response(status=503, text=f"{plural(waiting, 'feed')} not polled yet\n")
        return web.Response(text="ready\n")

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(self.board(), dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def start(self, host: str, port: int) -> web.AppRunner:
        """Bind and serve; a port in use raises StartupError (exit 2)."""
        app = web.Application()
        if self.site is not None:
            self.site.routes(app)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/status", self.status)
        # A page left open holds a connection; the exit does not wait for it for long.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            reason = (os.strerror(exc.errno) if exc.errno else str(exc)).lower()
            raise StartupError(f"--serve {host}:{port}: cannot listen there: {reason}"
                               ) from None
        address = runner.addresses[0]
        self.bound = (str(address[0]), int(address[1]))
        return runner


# #### Serving: the page of your dependencies, its feed and calendar ###############################


PAGE_CSS = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#5b6470;--line:#d8dee4;
--ok:#1a7f37;--minor:#9a6700;--major:#cf222e;--critical:#82071e;--maint:#0969da;--none:#d8dee4}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;
--line:#30363d;--ok:#3fb950;--minor:#d29922;--major:#f85149;--critical:#ff7b72;
--maint:#58a6ff;--none:#30363d}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;background:var(--bg);
color:var(--fg)}header,main,footer{max-width:62rem;margin:0 auto;padding:0 1rem}
h1{font-size:1.6rem;margin:1.2rem 0 .2rem}h2{font-size:1.25rem;margin:0}
h3{font-size:1rem;margin:1rem 0 .3rem}a{color:inherit}.muted,.meta{color:var(--muted)}
.vendor{border:1px solid var(--line);border-left:.4rem solid var(--ok);border-radius:.5rem;
padding:.8rem 1rem;margin:1rem 0}.vendor.lvl-minor,.vendor.lvl-degraded,
.vendor.lvl-incident{border-left-color:var(--minor)}.vendor.lvl-major,
.vendor.lvl-feed-failing{border-left-color:var(--major)}
.vendor.lvl-critical{border-left-color:var(--critical)}
.vendor.lvl-maintenance{border-left-color:var(--maint)}
.vendor.lvl-not-read{border-left-color:var(--none)}
.state{font-size:.9rem;font-weight:600;margin-left:.5rem}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:.2rem .5rem .2rem 0;border-bottom:1px solid var(--line)}
caption{text-align:left;font-weight:600;padding:.6rem 0 .2rem}
ul{margin:.2rem 0;padding-left:1.2rem}
.bars{display:flex;gap:1px;height:1.6rem;margin:.8rem 0 .2rem}
.bars span{flex:1;border-radius:1px;background:var(--ok)}.bars .d-none{background:var(--none)}
.bars .d-minor{background:var(--minor)}.bars .d-major{background:var(--major)}
.bars .d-critical{background:var(--critical)}.bars .d-maintenance{background:var(--maint)}
.steps li{margin:.3rem 0}
""".strip()
# The main part is fetched again when the events say it changed (the version the page was
# made from is the stream's start, so nothing between the two is missed), and every minute
# so that ages and "last checked" move on; only a change is announced to screen readers.
PAGE_SCRIPT = """
(function(){var m=document.getElementById('main'),l=document.getElementById('live');
function refresh(said){fetch(location.pathname+'?part=main').then(function(r){
return r.ok?r.text():null}).then(function(t){if(t!==null){m.innerHTML=t;
if(said){l.textContent='Updated at '+new Date().toLocaleTimeString()}}})}
setInterval(function(){refresh(false)},60000);if(!window.EventSource)return;
var s=new EventSource('/events?since='+m.getAttribute('data-version'));
s.onmessage=function(){refresh(true)}})();
""".strip()


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# No source but the page itself: its one style block and one script, by their hashes; it
# fetches only from where it came from, and nothing may frame it or send a form anywhere.
PAGE_CSP = (f"default-src 'none'; style-src {_csp_hash(PAGE_CSS)}; "
            f"script-src {_csp_hash(PAGE_SCRIPT)}; connect-src 'self'; img-src 'none'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
_LEVEL_WORDS = {Level.OPERATIONAL: "Operational", Level.MAINTENANCE: "Maintenance under way",
                Level.DEGRADED: "Degraded", Level.INCIDENT: "Incident",
                Level.MINOR: "Minor incident", Level.MAJOR: "Major incident",
                Level.CRITICAL: "Critical incident", Level.NOT_READ: "Not read yet",
                Level.FEED_FAILING: "Feed failing"}
_DAY_WORDS = ("maintenance", "minor", "major", "critical")


def vendor_key(name: str) -> str:
    """The name as /vendor/KEY and ?feed=KEY write it: "GitHub Actions" -> "github-actions"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "feed"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _safe_link(url: str) -> str | None:
    """A link a page may carry: http(s) only (a feed's "javascript:" goes nowhere)."""
    return url if re.match(r"https?://", url, re.I) else None


def _linked(text: str, url: str) -> str:
    link = _safe_link(url)
    return f'<a href="{_esc(link)}" rel="noreferrer">{_esc(text)}</a>' if link else _esc(text)


def page_html(title: str, main: str, version: int) -> str:
    """The whole page around its main part, made from the site's `version`; the script only
    refreshes that part."""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_esc(title)}</title><style>{PAGE_CSS}</style></head><body>"
            f'<header><h1>{_esc(title)}</h1><p class="muted">status_tracker {__version__}; '
            f"this page updates itself while open. "
            f'<a href="/feed.atom">Feed</a> · <a href="/maintenance.ics">Maintenance '
            f'calendar</a></p><p id="live" class="muted" role="status"></p></header>'
            f'<main id="main" data-version="{version}">{main}</main>'
            f"<script>{PAGE_SCRIPT}</script></body></html>")


def _components_table(components: Sequence[tuple[str, str]]) -> str:
    if not components:
        return ""
    rows = "".join(f'<tr><th scope="row">{_esc(n)}</th><td>{_esc(s)}</td></tr>'
                   for n, s in components)
    return ('<table><caption>Components</caption><thead><tr><th scope="col">Component</th>'
            f'<th scope="col">Status</th></tr></thead><tbody>{rows}</tbody></table>')


def _bars(days: Sequence[int | None], now: datetime) -> str:
    """The last days, oldest first: each day's worst (0 maintenance .. 3 critical, -1 up,
    None before the history begins), in words for screen readers and as a title."""
    counts = collections.Counter("no data" if d is None else "up" if d < 0 else _DAY_WORDS[d]
                                 for d in days)
    said = ", ".join(f"{n} {word}" for word, n in counts.most_common())
    first = (now - timedelta(days=len(days) - 1)).date()
    cells = "".join(
        f'<span class="d-{"none" if d is None else "ok" if d < 0 else _DAY_WORDS[d]}" '
        f'title="{first + timedelta(days=i)}: '
        f'{"no data" if d is None else "up" if d < 0 else _DAY_WORDS[d]}"></span>'
        for i, d in enumerate(days))
    return (f'<div class="bars" role="img" aria-label="Last {len(days)} days: {_esc(said)}">'
            f"{cells}</div>")


def vendor_html(entry: BoardEntry, checked: datetime | None, days: Sequence[int | None],
                now: datetime) -> str:
    """One vendor's section: its state in words, components, open incidents, maintenance,
    feed health and last check, and its days."""
    level = entry.level
    key = vendor_key(entry.name)
    health = ("Not read yet" if level is Level.NOT_READ
              else f"Feed failing: {entry.error}" if entry.error
              else f"Feed read; last checked {_stamp(checked)}" if checked
              else "Not read yet")
    parts = [f'<section class="vendor lvl-{level.word.replace(" ", "-")}" '
             f'aria-labelledby="v-{key}"><h2 id="v-{key}"><a href="/vendor/{key}">'
             f'{_esc(entry.name)}</a><span class="state">{_LEVEL_WORDS[level]}</span></h2>'
             f'<p class="meta">{_esc(health)}</p>',
             _components_table(entry.components)]
    if entry.incidents:
        items = "".join(
            f"<li>{_linked(i.title, i.link)}: {_esc(i.status or 'open')}"
            f"{', ' + _esc(i.impact) if i.impact else ''}, "
            f"{_esc(_age(i.published or i.updated, now))}"
            f"{'. ' + _esc(_clip(i.message, 300)) if i.message else ''}</li>"
            for i in entry.incidents)
        parts.append(f"<h3>Open incidents</h3><ul>{items}</ul>")
    if entry.maintenance:
        items = "".join(f"<li>{_linked(w.title, w.link)}: {_esc(w.status.lower())}, "
                        f"{_esc(_stamp(w.scheduled_for))} to "
                        f"{_esc(_stamp(w.scheduled_until))}</li>" for w in entry.maintenance)
        parts.append(f"<h3>Maintenance</h3><ul>{items}</ul>")
    parts.append(_bars(days, now) + "</section>")
    return "".join(parts)


def board_main(entries: Sequence[tuple[BoardEntry, datetime | None, Sequence[int | None]]],
               now: datetime) -> str:
    """The page's main part: every vendor, worst first."""
    ordered = sorted(entries, key=lambda e: (-e[0].level, e[0].name.lower()))
    worst = ordered[0][0].level if ordered else Level.OPERATIONAL
    summary = ("All vendors operational" if worst is Level.OPERATIONAL
               else f"Worst: {_LEVEL_WORDS[worst].lower()}")
    return (f'<p><strong>{_esc(summary)}</strong> <span class="muted">as of '
            f"{_esc(_stamp(now))}</span></p>"
            + "".join(vendor_html(e, c, d, now) for e, c, d in ordered))


def timeline_main(name: str, incidents: Sequence[tuple[Incident, Sequence[Step]]]) -> str:
    """/vendor/KEY: the vendor's incidents of the last 90 days, newest first, each with its
    timeline."""
    if not incidents:
        return (f'<p><a href="/">All vendors</a></p><h2>{_esc(name)}</h2>'
                f"<p>No incident recorded in the last {BAR_DAYS} days.</p>")
    blocks = []
    for inc, steps in incidents:
        items = "".join(f"<li><strong>{_esc(s.status)}</strong> "
                        f'<span class="muted">{_esc(_stamp(s.at))}</span>'
                        f"{'. ' + _esc(s.message) if s.message else ''}</li>" for s in steps)
        impact = f", {_esc(inc.impact)}" if inc.impact else ""
        # Coloured by how bad it was, as the main page colours a vendor (its words say it).
        level = Level.MAINTENANCE if inc.maintenance else _IMPACT_LEVELS.get(
            Impact.read(inc.impact) or Impact.NONE, Level.INCIDENT)
        blocks.append(f'<section class="vendor lvl-{level.word.replace(" ", "-")}">'
                      f"<h3>{_linked(inc.title, inc.link)}</h3>"
                      f'<p class="meta">{_esc(inc.status or "open")}{impact}; since '
                      f"{_esc(_stamp(inc.published))}</p><ol class=\"steps\">{items}</ol>"
                      "</section>")
    return (f'<p><a href="/">All vendors</a></p><h2>{_esc(name)}: incidents of the last '
            f"{BAR_DAYS} days</h2>" + "".join(blocks))


def _atom_time(moment: datetime | None) -> str:
    return (moment or _EPOCH).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom_feed(events: Sequence[IncidentEvent], *, self_url: str, now: datetime,
              vendor: str | None = None) -> str:
    """Every event (of one `vendor`) as one Atom feed (RFC 4287), newest first; each entry's
    id is its event's, and the feed's its own: stable however often, from wherever, it is
    read."""
    def updated(e: IncidentEvent) -> datetime | None:
        return (e.incident.updated if e.incident else None) or e.at

    entries = []
    for e in sorted(events, key=lambda e: updated(e) or _NO_TIME, reverse=True):
        inc = e.incident
        title = (f"{e.feed}: {inc.title} ({inc.status or e.kind.label})" if inc
                 else f"{e.feed}: {e.kind.label}")
        text = (inc.message if inc else e.error) or ""
        link = _safe_link(inc.link) if inc else None
        entries.append(
            f"<entry><id>urn:status-tracker:event:{e.event_id}</id>"
            f"<title>{_esc(title)}</title><updated>{_atom_time(updated(e))}</updated>"
            + (f'<link rel="alternate" href="{_esc(link)}"/>' if link else "")
            + f'<category term="{_esc(e.kind)}"/><content type="text">{_esc(text)}</content>'
            "</entry>")
    newest = max((u for e in events if (u := updated(e))), default=now)
    key = f":{vendor_key(vendor)}" if vendor else ""
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<id>urn:status-tracker:feed{_esc(key)}</id>"
            f"<title>{_esc(vendor or 'Your dependencies')}: every incident and update</title>"
            f"<updated>{_atom_time(newest)}</updated><author><name>status_tracker</name>"
            f'</author><link rel="self" href="{_esc(self_url)}"/>'
            + "".join(entries) + "</feed>\n")


def _ics_text(text: str) -> str:
    """TEXT as RFC 5545 3.3.11 escapes it."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def _ics_fold(line: str) -> list[str]:
    """Lines of at most 75 octets, each continuation begun with a space (RFC 5545 3.1)."""
    out: list[str] = []
    current = ""
    for char in line:
        limit = 75 if not out else 74  # a continuation's leading space is one of its 75
        if len((current + char).encode()) > limit:
            out.append(current)
            current = ""
        current += char
    out.append(current)
    return [out[0], *(" " + rest for rest in out[1:])]


def _ics_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True, slots=True)
class CalendarWindow:
    """A maintenance window as the calendar says it."""

    feed: str
    code: str
    title: str
    link: str
    starts: datetime
    ends: datetime | None
    status: str
    sequence: int = 0


def maintenance_calendar(windows: Sequence[CalendarWindow], now: datetime) -> str:
    """Every maintenance window as an iCalendar event (RFC 5545): its UID stable while the
    window moves (SEQUENCE says it moved), times in UTC, a cancelled one CANCELLED."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//status_tracker//maintenance//EN",
             "CALSCALE:GREGORIAN", "X-WR-CALNAME:Vendor maintenance"]
    for w in windows:
        ends = w.ends or w.starts + timedelta(hours=1)
        lines += ["BEGIN:VEVENT", f"UID:{vendor_key(w.feed)}-{_ics_text(w.code)}@status-tracker",
                  f"DTSTAMP:{_ics_time(now)}", f"DTSTART:{_ics_time(w.starts)}",
                  f"DTEND:{_ics_time(max(ends, w.starts))}", f"SEQUENCE:{w.sequence}",
                  f"SUMMARY:{_ics_text(f'{w.feed}: {w.title}')}",
                  f"STATUS:{'CANCELLED' if w.status == 'cancelled' else 'CONFIRMED'}"]
        if link := _safe_link(w.link):
            lines.append(f"URL:{link}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(part + "\r\n" for line in lines for part in _ics_fold(line))


def _day_index(moment: float, first: float) -> int:
    return int((moment - first) // 86_400)


def day_levels(db: sqlite3.Connection, feed: str, now: datetime, days: int = BAR_DAYS,
               read_at: float | None = None) -> list[int | None]:
    """Each of the last `days` days (oldest first) at its worst: 0 maintenance, 1 minor,
    2 major, 3 critical from the incidents, maintenance windows and component states
    recorded; -1 a day with none; None a day before anything was recorded or read (`read_at`:
    this run's last good read, which records nothing when nothing changed)."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first = (today - timedelta(days=days - 1)).timestamp()
    end = now.timestamp()
    began = db.execute("SELECT MIN(recorded) FROM events WHERE feed = ?", (feed,)).fetchone()[0]
    since = db.execute("SELECT MIN(since) FROM components WHERE feed = ?", (feed,)).fetchone()[0]
    start = min((t for t in (began, since, read_at) if t is not None), default=None)
    if start is None:
        return [None] * days
    levels: list[int | None] = [
        None if i < _day_index(start, first) else -1 for i in range(days)]

    def mark(rank: int, low: float, high: float) -> None:
        for i in range(max(0, _day_index(low, first)), min(days, _day_index(high, first) + 1)):
            was = levels[i]
            levels[i] = rank if was is None else max(rank, was)

    for impact, started, resolved in db.execute(
            "SELECT impact, started, resolved FROM incidents WHERE feed = ? AND maintenance = 0 "
            "AND started IS NOT NULL AND (resolved IS NULL OR resolved >= ?)", (feed, first)):
        mark(max(1, (Impact.read(impact) or Impact.NONE).rank), max(started, first),
             min(resolved or end, end))
    for low, high in _maintenance_spans(db, feed, first, end):
        mark(0, low, high)
    changes: dict[str, list[tuple[str, float]]] = {}
    for name, status, at in db.execute(
            "SELECT name, status, since FROM components WHERE feed = ? ORDER BY name, since",
            (feed,)):
        changes.setdefault(name, []).append((status, at))
    for spans in changes.values():
        for status, low, high in _spans(spans, first, end):
            if (state_rank := _FAIL_RANK_OF_STATE.get(status)) is not None:
                mark(state_rank, low, high)
    return levels


def _maintenance_spans(db: sqlite3.Connection, feed: str, first: float, end: float
                       ) -> list[tuple[float, float]]:
    """When maintenance was under way: a window's scheduled times once it has begun (not
    from when it was announced), or a feed's maintenance from its first step in progress."""
    spans = [(max(starts, first), min(ends or end, end)) for starts, ends in db.execute(
        "SELECT starts, ends FROM windows WHERE feed = ? AND status != 'cancelled' AND "
        "starts IS NOT NULL AND starts < ? AND (ends IS NULL OR ends >= ?)", (feed, end, first))]
    for ident, resolved in db.execute(
            "SELECT id, resolved FROM incidents WHERE feed = ? AND maintenance = 1 AND "
            "(resolved IS NULL OR resolved >= ?)", (feed, first)):
        begun = [at for at, status in db.execute(
            "SELECT at, status FROM steps WHERE feed = ? AND incident = ? AND at IS NOT NULL",
            (feed, ident)) if Phase.of(status) is Phase.STARTED]
        if begun:
            spans.append((max(min(begun), first), min(resolved or end, end)))
    return spans


def vendor_incidents(db: sqlite3.Connection, feed: str, since: float
                     ) -> list[tuple[Incident, list[Step]]]:
    """The vendor's incidents and maintenance touching the window, newest first, each with
    its recorded steps."""
    found = []
    for ident, title, link, impact, maintenance, started, resolved in db.execute(
            "SELECT id, title, link, impact, maintenance, started, resolved FROM incidents "
            "WHERE feed = ? AND (resolved IS NULL OR resolved >= ?) ORDER BY started DESC",
            (feed, since)):
        steps = [Step(status, message, _from_epoch(at), "") for at, status, message in
                 db.execute("SELECT at, status, message FROM steps WHERE feed = ? AND "
                            "incident = ? ORDER BY at", (feed, ident))]
        status = steps[-1].status if steps else ("Resolved" if resolved else "")
        found.append((Incident(ident, title, link, status, (), "", _from_epoch(started),
                               _from_epoch(resolved), impact=impact,
                               maintenance=bool(maintenance)), steps))
    return found


def recorded_events(db: sqlite3.Connection, feed: str | None, since: float,
                    limit: int = FEED_ENTRIES) -> list[IncidentEvent]:
    """The newest events of the history (of one feed), newest first."""
    rows = db.execute(
        "SELECT body FROM events WHERE recorded >= ? AND (? IS NULL OR feed = ?) "
        "ORDER BY seq DESC LIMIT ?", (since, feed, feed, limit))
    events = []
    for (body,) in rows:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            events.append(event_from_dict(json.loads(body)))
    return events


def not_modified(headers: Mapping[str, str], tag: str, modified: datetime) -> bool:
    """Whether a conditional GET is answered 304 (RFC 9110 13.1.2, 13.1.3): If-None-Match,
    a list or "*", compared weakly; else If-Modified-Since, to the second."""
    if (asked := headers.get("If-None-Match")) is not None:
        tags = {t.strip().removeprefix("W/") for t in asked.split(",")}
        return "*" in tags or tag.removeprefix("W/") in tags
    asked_since = headers.get("If-Modified-Since")
    since = _http_date(asked_since) if asked_since else None
    return since is not None and modified <= since


def recorded_windows(db: sqlite3.Connection) -> list[CalendarWindow]:
    return [CalendarWindow(feed, code, title, link, moment, _from_epoch(ends), status, sequence)
            for feed, code, title, link, starts, ends, status, sequence in db.execute(
                "SELECT feed, code, title, link, starts, ends, status, sequence FROM windows "
                "WHERE starts IS NOT NULL ORDER BY starts")
            if (moment := _from_epoch(starts)) is not None]


class Site:
    """The page of your dependencies (/ and /vendor/KEY), updated while open through
    Server-Sent Events (/events), one Atom feed of every event (/feed.atom) and a maintenance
    calendar (/maintenance.ics); from what the watch knows and, with a history, what it
    recorded. Read only, on the watch's loop; the history is read in a thread."""

    def __init__(self, monitoring: Monitoring, history: Path | None, *, clock: Clock,
                 writer: History | None = None) -> None:
        self.monitoring = monitoring
        self.history = history
        self.writer = writer  # what is queued is written before a read: the page is current
        self.clock = clock
        self.version = 0
        self.stopping = asyncio.Event()  # set at exit: open event streams end
        self._changed = asyncio.Event()
        self._tokens: dict[int, tuple[int, int, int]] = {}
        self.recent: collections.deque[IncidentEvent] = collections.deque(maxlen=FEED_ENTRIES)
        self._feed_versions: dict[str, tuple[str, datetime]] = {}  # per ?feed=: ETag, since

    def __call__(self, event: IncidentEvent) -> None:
        """Every event: kept for the feed when there is no history, and the page told."""
        self.recent.appendleft(event)
        self._bump()

    def watch(self, monitors: Iterable[StatusPageMonitor]) -> None:
        for m in monitors:
            m.shows_board = True
            if self._polled not in m.polled_hooks:
                m.polled_hooks.append(self._polled)

    def _polled(self, m: StatusPageMonitor) -> None:
        token = (m.stats.modified, m.state.failures, m.stats.events)
        if self._tokens.get(id(m)) != token:
            self._tokens[id(m)] = token
            self._bump()

    def _bump(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.index)
        app.router.add_get("/vendor/{key}", self.vendor)
        app.router.add_get("/events", self.events)
        app.router.add_get("/feed.atom", self.feed)
        app.router.add_get("/maintenance.ics", self.calendar)

    async def _read(self, query: Callable[[sqlite3.Connection], _R], empty: _R) -> _R:
        """A query of the history in a thread of its own; `empty` without one."""
        if self.writer is not None and self.writer.pending:
            await self.writer.flush()
        if self.history is None or not self.history.exists():
            return empty

        def run(path: Path) -> _R:
            db = open_history(path, read_only=True)
            try:
                return query(db)
            finally:
                db.close()

        try:
            return await in_daemon_thread(run, self.history, pool="history-read")
        except (HistoryError, sqlite3.Error) as exc:
            log.warning("history %s: cannot be read for the page (%s)", self.history,
                        exception_words(exc))
            return empty

    def _page(self, request: web.Request, title: str, main: str, version: int
              ) -> web.Response:
        body = main if request.query.get("part") == "main" else page_html(title, main, version)
        return web.Response(text=body, content_type="text/html", headers=PAGE_HEADERS)

    async def index(self, request: web.Request) -> web.Response:
        version = self.version  # before anything is read: a change meanwhile is not missed
        now = self.clock.now()
        board = self.monitoring.entries(now)
        monitors = self.monitoring.monitors
        unknown: list[list[int | None]] = [[None] * BAR_DAYS for _ in monitors]
        days = await self._read(lambda db: [day_levels(db, m.name, now,
                                                       read_at=m.stats.last_success)
                                            for m in monitors], unknown)
        checked = [_from_epoch(m.stats.last_success) for m in monitors]
        main = board_main(list(zip(board, checked, days, strict=True)), now)
        return self._page(request, "Your dependencies", main, version)

    async def vendor(self, request: web.Request) -> web.Response:
        version = self.version
        key = request.match_info["key"]
        monitor = next((m for m in self.monitoring.monitors if vendor_key(m.name) == key), None)
        if monitor is None:
            raise web.HTTPNotFound(text="no such vendor here\n")
        since = (self.clock.now() - timedelta(days=BAR_DAYS)).timestamp()
        none: list[tuple[Incident, list[Step]]] = []
        found = await self._read(lambda db: vendor_incidents(db, monitor.name, since), none)
        return self._page(request, monitor.name,
                          timeline_main(monitor.name, found), version)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """One message each time what the page shows may have changed since the version it
        was made from (`since`, or the last message's id when the browser reconnects: a
        tracker restarted meanwhile counts anew, and any other number is a change); a
        comment every 15 seconds keeps proxies from closing the stream. A closed tab ends
        it quietly."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-store"})
        await response.prepare(request)
        known = request.headers.get("Last-Event-ID") or request.query.get("since", "")
        seen = int(known) if known.isascii() and known.isdigit() and len(known) < 18 else (
            self.version)
        try:
            while not self.stopping.is_set():
                if self.version != seen:
                    seen = self.version
                    await response.write(f"id: {seen}\ndata: {seen}\n\n".encode())
                    continue
                await _wait_event_or(self._changed, self.stopping, 15)
                if self.version == seen and not self.stopping.is_set():
                    await response.write(b": still here\n\n")
        except ConnectionError:  # the page was closed: nothing to say
            pass
        return response

    async def feed(self, request: web.Request) -> web.Response:
        wanted = request.query.get("feed")
        names = {vendor_key(m.name): m.name for m in self.monitoring.monitors}
        if wanted is not None and wanted not in names:
            raise web.HTTPNotFound(text="no such vendor here\n")
        name = names.get(wanted or "")
        since = (self.clock.now() - timedelta(days=FEED_DAYS)).timestamp()
        events = await self._read(lambda db: recorded_events(db, name, since), None)
        if events is None:  # no history: what this run reported
            events = [e for e in self.recent if name is None or e.feed == name]
        tag = f'"{_digest(wanted or "", *(e.event_id for e in events))}"'
        # Last modified when this tag was first served (a restart serves it anew): a catch-up's
        # events may be older than the newest one shown, yet they are a change.
        seen_tag, modified = self._feed_versions.get(wanted or "", ("", None))
        if seen_tag != tag or modified is None:
            modified = self.clock.now().replace(microsecond=0)
            self._feed_versions[wanted or ""] = (tag, modified)
        headers = {"ETag": tag, "Last-Modified": email.utils.format_datetime(modified, True),
                   "Cache-Control": "no-cache"}
        if not_modified(request.headers, tag, modified):
            return web.Response(status=304, headers=headers)
        body = atom_feed(events, self_url=str(request.rel_url), now=self.clock.now(),
                         vendor=name)
        return web.Response(text=body, content_type="application/atom+xml", headers=headers)

    async def calendar(self, request: web.Request) -> web.Response:
        windows = await self._read(recorded_windows, None)
        if windows is None:
            now = self.clock.now()
            windows = [CalendarWindow(e.name, w.id, w.title, w.link, w.scheduled_for,
                                      w.scheduled_until, "scheduled")
                       for e in self.monitoring.entries(now) for w in e.maintenance
                       if w.scheduled_for is not None]
        body = maintenance_calendar(windows, self.clock.now())
        return web.Response(body=body.encode(), content_type="text/calendar",
                            charset="utf-8", headers={"Cache-Control": "no-cache"})


# #### Running: the watch, cron mode, reloads and the status board #################################


@dataclass(frozen=True, slots=True)
class FeedConfig:
    name: str
    url: str
    interval: float | None = None
    options: FeedOptions = FeedOptions()
    page: Page | None = None  # the catalogue's entry, when the feed was named by it
    # A bare --feed NAME no catalogued page has: why (for all but --report, which may know
    # the name from the history, where a watch's own names are kept).
    unknown: str | None = None

    @property
    def platform(self) -> Platform:
        return self.page.platform if self.page is not None else Platform.FEED


@dataclass(slots=True)
class Settings:
    feeds: list[FeedConfig]
    interval: float = DEFAULT_INTERVAL
    max_interval: float = DEFAULT_MAX_INTERVAL
    per_host: int = DEFAULT_PER_HOST
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    history: int = 0
    once: bool = False
    status: bool = False
    as_json: bool = False
    state: Path | None = None
    webhooks: list[str] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)  # [[notify]] in the config file
    serve: tuple[str, int] | None = None  # where the page, /metrics and the health checks listen
    history_db: Path | str | None = None  # "off"; None: beside the state file, if any
    history_days: int = HISTORY_DAYS
    webhook_secret: str | None = None
    contact: str | None = None  # told to servers in the User-Agent, as polite crawlers do
    proxy: str | None = None  # every request through it, whatever the environment says
    fail_on: str | None = None  # --status: exit 3 when a page is at this level or worse
    feeds_given: bool = False  # the feeds were named (flags or a config), not the default
    drain_seconds: float = ONCE_DRAIN_SECONDS  # --once: how long to keep delivering
    once_poll_seconds: float = ONCE_POLL_SECONDS  # --once: how long polls may take


def all_routes(settings: Settings) -> list[Route]:
    """The config's [[notify]] routes, then each --webhook (or webhooks = […]) URL not among
    them as a route with the defaults."""
    routes = list(settings.routes)
    known = {r.url for r in routes}
    routes += [Route(url) for url in dict.fromkeys(settings.webhooks) if url not in known]
    return routes


async def run_tracker(settings: Settings, stop: asyncio.Event, *, clock: Clock,
                      proxies: Proxies | None = None, stdout: TextSink | None = None,
                      store: StateStore | None = None,
                      on_monitoring: Callable[[Monitoring], None] | None = None,
                      reload: Reload | None = None) -> int:
    """Watch every feed on this loop until `stop` is set (or once); return the exit code.

    Without `stdout`, events go to sys.stdout through a StdoutWriter thread. With `reload`,
    each time its event is set the watch takes the settings its function gives.
    """
    if store is None and settings.state is not None:
        check_state_path(settings.state, create_folder=True)
        store = StateStore(settings.state, clock=clock, spacing=SAVE_SPACING)
        store.lock.acquire()
        try:
            store.load()
        except BaseException:
            store.lock.release()
            raise
    writer = None
    if stdout is None and sys.stdout is not None:
        writer = StdoutWriter(sys.stdout)
        stdout = writer
    try:
        history = open_history_writer(settings, clock)
        code = await _run_with_store(settings, stop, clock, proxies or Proxies(environ={}),
                                     stdout, store, history, on_monitoring, reload)
    finally:
        if store is not None and settings.state is not None:
            store.lock.release()
    if writer is not None:
        seconds = STOP_FLUSH_SECONDS if stop.is_set() else settings.drain_seconds
        await writer.drain(seconds, clock)
    return code


def history_path(settings: Settings) -> Path | None:
    """Where the history is kept: --history-db, else beside the state file ("state.json" ->
    "state.history.sqlite3"), else nowhere; "off" keeps none."""
    if settings.history_db == "off":
        return None
    if isinstance(settings.history_db, Path):
        return settings.history_db
    if settings.state is not None:
        # Beside the file the state is written to: a state path that is a symlink points
        # where the data lives.
        target = settings.state.resolve() if settings.state.is_symlink() else settings.state
        return target.with_name(f"{target.stem}.history.sqlite3")
    return None


def open_history_writer(settings: Settings, clock: Clock) -> History | None:
    """The history's writer for a watch or a --once run; a file that cannot be ours is a
    mistake in the configuration (exit 2)."""
    path = history_path(settings)
    if path is None:
        return None
    try:
        return History(path, clock=clock, days=settings.history_days)
    except HistoryError as exc:
        raise StartupError(str(exc)) from None


def describe_watch(settings: Settings) -> str:
    """The startup line: which feeds, on which hosts, and how often (a feed's own interval
    shows). Logs keep a URL to its scheme and host: a private page's path may be its token."""
    def every(feed: FeedConfig) -> float:
        return feed.interval if feed.interval is not None else settings.interval

    feeds = settings.feeds
    intervals = {every(f) for f in feeds}
    shared = f" every {next(iter(intervals)):g}s" if len(intervals) == 1 else ""
    if settings.once:
        shared = " once"
    named = [f"{f.name} ({redact_url(f.url)}{'' if shared else f', every {every(f):g}s'})"
             for f in feeds[:SHOWN_FEEDS]]
    if len(feeds) > SHOWN_FEEDS:
        named.append(f"and {len(feeds) - SHOWN_FEEDS} more")
    verb = "reading" if settings.once else "watching"
    return f"{verb} {plural(len(feeds), 'feed')}{shared}: {', '.join(named)}"


@dataclass(frozen=True, slots=True)
class Reload:
    """How a running watch takes a new configuration (SIGHUP with --config)."""

    wanted: asyncio.Event  # set by the signal
    settings: Callable[[], Settings]  # reads the configuration again; raises ConfigError


# What a reload cannot change in a running process: it says so, and the old value stays.
_FIXED_SETTINGS = ("state", "serve", "history_db", "history_days", "contact", "proxy", "once",
                   "status", "as_json")


class Fleet:
    """The monitors and webhook senders of one run, made from the settings; a reload applies
    new settings to them: feeds and routes added start, those removed stop (what the state
    file holds of a feed is kept for when it comes back), those changed take their new
    options, and nothing already reported is reported again."""

    def __init__(self, shared: Shared, *, store: StateStore | None,
                 console: ConsolePrinter) -> None:
        self.shared = shared
        self.store = store
        self.console = console
        self.monitors: dict[str, StatusPageMonitor] = {}
        self.senders: dict[str, WebhookSender] = {}
        self.callback = Fanout([console])
        self.history: History | None = None  # every event and state change, when kept
        self.site: Site | None = None  # the page, told of every event and poll
        self._recorded: dict[int, tuple[int, int, int]] = {}

    def apply(self, settings: Settings) -> tuple[list[StatusPageMonitor],
                                                 list[StatusPageMonitor],
                                                 list[WebhookSender], list[WebhookSender]]:
        """Make the fleet what `settings` say; return the monitors started and stopped, and
        the senders started and stopped."""
        senders_on, senders_off = self._apply_routes(settings)
        self.callback.targets = [self.console, *self.senders.values(),
                                 *(t for t in (self.history, self.site) if t is not None)]
        monitors_on, monitors_off = self._apply_feeds(settings)
        if self.history is not None:
            for monitor in monitors_on:
                monitor.polled_hooks.append(self._record)
        if self.site is not None:
            self.site.watch(monitors_on)
        return monitors_on, monitors_off, senders_on, senders_off

    def _record(self, m: StatusPageMonitor) -> None:
        """After a poll: what the page says of its components and maintenance, into the
        history, only when a read brought something (a quiet poll costs one comparison)."""
        api = m.api.maintenances.data if m.api is not None else None
        windows = api if api is not None else m.enricher.windows
        token = (m.stats.modified, len(m.components), id(windows))
        if self.history is None or self._recorded.get(id(m)) == token:
            return
        self._recorded[id(m)] = token
        self.history.components(m.name, m.components)
        if windows:
            self.history.windows(m.name, windows)

    def _apply_routes(self, settings: Settings) -> tuple[list[WebhookSender],
                                                         list[WebhookSender]]:
        store = self.store
        wanted = {route.url: route for route in all_routes(settings)}
        started = []
        for url, route in wanted.items():
            if (sender := self.senders.get(url)) is not None:
                sender.reconfigure(route, settings.webhook_secret)
                continue
            sender = WebhookSender(url, self.shared, store.outbox(url) if store else None,
                                   route=route, secret=settings.webhook_secret,
                                   on_change=store.save if store else None)
            self.senders[url] = sender
            started.append(sender)
        stopped = [self.senders.pop(url) for url in list(self.senders) if url not in wanted]
        for url in set(store.outboxes if store else ()) - set(wanted):
            if dropped := store.drop_outbox(url) if store else 0:
                log.warning("dropped %d undelivered events for a webhook no longer "
                            "configured (%s)", dropped, redact_url(url))
        labels = [s.base_label for s in self.senders.values()]
        for number, sender in enumerate(self.senders.values(), 1):
            # Logs show a destination by scheme and host only, so two routes to one host
            # (two Slack channels) would read alike without their place in the config.
            sender.label = (f"{sender.base_label} (route {number})"
                            if labels.count(sender.base_label) > 1 else sender.base_label)
        return started, stopped

    def _apply_feeds(self, settings: Settings) -> tuple[list[StatusPageMonitor],
                                                        list[StatusPageMonitor]]:
        if self.shared.limiter.per_host != settings.per_host:
            self.shared.limiter = HostLimiter(settings.per_host)
        spread = start_spread(len(settings.feeds), settings.interval)
        started = []
        for feed in settings.feeds:
            every = feed.interval if feed.interval is not None else settings.interval
            policy = RetryPolicy(every, max(settings.max_interval, every),
                                 settings.failure_threshold)
            if (monitor := self.monitors.get(feed.url)) is not None:
                monitor.reconfigure(feed.name, policy=policy, history=settings.history,
                                    options=feed.options, limiter=self.shared.limiter)
                continue
            store = self.store
            monitor = StatusPageMonitor(
                feed.name, feed.url, self.shared, self.callback, policy=policy,
                options=feed.options, history=settings.history,
                state=store.feed(feed.url) if store is not None else None, store=store,
                start_spread=spread)
            self.monitors[feed.url] = monitor
            started.append(monitor)
        wanted = {feed.url for feed in settings.feeds}
        stopped = [self.monitors.pop(url) for url in list(self.monitors) if url not in wanted]
        return started, stopped


def _say_how_it_starts(settings: Settings, fleet: Fleet) -> None:
    log.info("%s", describe_watch(settings))
    if fleet.shared.proxies:
        log.info("requests go %s", fleet.shared.proxies.describe())
    if any(m.state.first_sight for m in fleet.monitors.values()) and not settings.history:
        log.info("%s (--history 3 adds the latest incidents; --status shows each "
                 "page's current state)", "first read: only incidents open now are "
                 "printed" if settings.once else "waiting for changes: incidents open now "
                 "are printed first, then each new incident and update as it is posted")
    _say_unknown_route_feeds(settings)


def _say_unknown_route_feeds(settings: Settings) -> None:
    names = {f.name.lower() for f in settings.feeds}
    for index, route in enumerate(settings.routes):
        unknown = sorted(f for f in route.feeds if f.lower() not in names)
        if unknown:
            log.warning("notify[%d]: feeds %s: no watched feed has that name", index,
                        ", ".join(map(repr, unknown)))


def _say_summary(fleet: Fleet, store: StateStore | None) -> bool:
    """The exit summary: a line per feed and per webhook. True when an event was lost."""
    for monitor in fleet.monitors.values():
        log.info("%s", monitor.stats.line(monitor.name,
                                          monitor.api.requests if monitor.api else 0))
    lost = False
    kept = "; kept in the state file" if store is not None else " and lost"
    for sender in fleet.senders.values():
        log.info("webhook %s: %s delivered, %d dropped", sender.label,
                 plural(sender.delivered, "event"), sender.dropped)
        outbox = sender.outbox
        if outbox.queued:
            log.warning("webhook %s: %s still queued%s", sender.label,
                        plural(len(outbox.queued), "event"), kept)
        if outbox.held:
            log.info("webhook %s: %s held for quiet hours or a digest%s", sender.label,
                     plural(len(outbox.held), "event"), kept)
        lost = lost or (store is None and bool(outbox))
    return lost


async def _run_with_store(settings: Settings, stop: asyncio.Event, clock: Clock,
                          proxies: Proxies, stdout: TextSink | None, store: StateStore | None,
                          history: History | None,
                          on_monitoring: Callable[[Monitoring], None] | None = None,
                          reload: Reload | None = None) -> int:
    async with new_session(settings.contact, aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
                           ) as session:
        shared = Shared(session, clock=clock, proxies=proxies)
        fleet = Fleet(shared, store=store,
                      console=ConsolePrinter(stdout, as_json=settings.as_json))
        fleet.history = history
        fleet.apply(settings)
        # What is loaded now (every feed's memory) lives until exit: frozen, the collector
        # no longer scans it at each full collection, which recur as polls allocate.
        gc.collect()
        gc.freeze()
        monitoring = Monitoring(list(fleet.monitors.values()), list(fleet.senders.values()),
                                clock=clock,
                                lines=settings.serve is not None and not settings.once)
        served = await _start_serving(settings, fleet, monitoring)
        if on_monitoring is not None:
            on_monitoring(monitoring)
        try:
            if settings.once:
                code = await _once(fleet, stop, settings, clock)
            else:
                code = await _watch(fleet, stop, monitoring, settings, reload)
        finally:
            if served is not None:
                if fleet.site is not None:
                    fleet.site.stopping.set()
                await served.cleanup()
            if history is not None:
                await history.flush()
                history.close()
            saved = store is None or await store.flush()
            if isinstance(stdout, StdoutWriter):
                # Events first, then the summary under them, as a terminal shows both; a
                # stdout that is not being read does not hold the exit up for this.
                await stdout.settle(SUMMARY_WAIT_SECONDS, clock)
            lost = _say_summary(fleet, store)
    if settings.once and lost:
        code = max(code, EXIT_FEED_FAILED)  # events that nothing keeps for a next run
    if not saved:
        log.error("state file %s: the last save before exit failed; the next run may report "
                  "some events again", settings.state)
        code = max(code, EXIT_FEED_FAILED)
    return code


async def _start_serving(settings: Settings, fleet: Fleet, monitoring: Monitoring
                         ) -> web.AppRunner | None:
    """--serve while watching: listen, then say how the watch starts and where it serves."""
    served = None
    if settings.serve is not None and not settings.once:
        fleet.site = monitoring.site = Site(monitoring, history_path(settings),
                                            clock=fleet.shared.clock, writer=fleet.history)
        fleet.site.watch(fleet.monitors.values())
        fleet.callback.targets = [*fleet.callback.targets, fleet.site]
        served = await monitoring.start(*settings.serve)
    _say_how_it_starts(settings, fleet)
    if served is not None:
        host, port = monitoring.bound or settings.serve or ("", 0)
        log.info("serving the page of your dependencies on http://%s:%d/ (and /feed.atom, "
                 "/maintenance.ics, /metrics, /healthz, /readyz, /status)", host, port)
    elif settings.serve is not None:
        log.info("--serve is served while watching, not with --once")
    return served


async def _run_until(awaitables: Sequence[Awaitable[Any]], stop: asyncio.Event,
                     seconds: float | None) -> list[asyncio.Task[Any]]:
    """Run all at once until all are done, `stop` is set or `seconds` pass; cancel the rest."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    if tasks:
        stopper = asyncio.ensure_future(stop.wait())
        try:
            all_done = asyncio.ensure_future(asyncio.wait(tasks))
            await asyncio.wait({stopper, all_done}, timeout=seconds,
                               return_when=asyncio.FIRST_COMPLETED)
            all_done.cancel()
        finally:
            stopper.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return tasks


async def _once(fleet: Fleet, stop: asyncio.Event, settings: Settings, clock: Clock) -> int:
    """Poll each feed once, then deliver what is queued: at most once_poll_seconds plus
    drain_seconds in all, and a stop ends either part at once (exit 1: not every feed was
    read, each one not read said so)."""
    monitors = list(fleet.monitors.values())
    polls = await _run_until([m.poll() for m in monitors], stop, settings.once_poll_seconds)
    read = True
    for monitor, task in zip(monitors, polls, strict=True):
        if task.cancelled():
            read = False
            if stop.is_set():
                log.warning("%s: %s", monitor.name, NOT_READ)
            else:
                log.warning("%s: no answer within %gs; not read this time", monitor.name,
                            settings.once_poll_seconds)
        elif task.exception() is not None or not task.result():
            read = False
    senders = list(fleet.senders.values())
    deadline = clock.monotonic() + settings.drain_seconds
    await _run_until([s.drain(deadline) for s in senders], stop, settings.drain_seconds)
    if any(s.dropped for s in senders):
        return EXIT_FEED_FAILED
    return EXIT_OK if read else EXIT_FEED_FAILED


class _Tasks:
    """The watch's tasks: the scheduler, one per webhook sender, the state file's saver."""

    def __init__(self, scheduler: Scheduler, stop: asyncio.Event) -> None:
        self.stop = stop
        self.polling = asyncio.create_task(scheduler.run(stop), name="scheduler")
        self.senders: dict[int, asyncio.Task[None]] = {}
        self.others: set[asyncio.Task[None]] = set()

    def start_sender(self, sender: WebhookSender) -> None:
        task = asyncio.create_task(sender.run(self.stop), name=f"webhook {sender.label}")
        self.senders[id(sender)] = task
        self.others.add(task)

    async def stop_sender(self, sender: WebhookSender) -> None:
        task = self.senders.pop(id(sender))
        self.others.discard(task)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def all(self) -> set[asyncio.Task[None]]:
        return {self.polling, *self.others}


async def _watch(fleet: Fleet, stop: asyncio.Event, monitoring: Monitoring | None = None,
                 settings: Settings | None = None, reload: Reload | None = None) -> int:
    """Run every monitor and sender until `stop`, or until every feed is gone; EXIT_INTERNAL
    when a task died of a bug (a supervisor should restart a process missing a watcher)."""
    # The scheduler keeps the loop's own time: its timers are the loop's, set by loop.time()
    # (a test gives it a clock and timers of its own).
    scheduler = Scheduler(list(fleet.monitors.values()), meter=fleet.shared.meter)
    tasks = _Tasks(scheduler, stop)
    for sender in fleet.senders.values():
        tasks.start_sender(sender)
    if fleet.store is not None:
        tasks.others.add(asyncio.create_task(fleet.store.keep_saving(stop), name="state file"))
    if fleet.history is not None:
        tasks.others.add(asyncio.create_task(fleet.history.keep_writing(stop), name="history"))
    stopper = asyncio.create_task(stop.wait())
    waits = {stopper}
    reloads = None
    if reload is not None:
        reloads = asyncio.create_task(reload.wanted.wait())
        waits.add(reloads)
    code = EXIT_OK
    try:
        while not tasks.polling.done():
            done, _ = await asyncio.wait({*waits, *tasks.all()},
                                         return_when=asyncio.FIRST_COMPLETED)
            if stopper in done:
                break
            if reloads is not None and reloads in done and reload is not None:
                reload.wanted.clear()
                waits.discard(reloads)
                if settings is not None:
                    settings = await _reload(fleet, scheduler, tasks, monitoring, settings,
                                             reload)
                reloads = asyncio.create_task(reload.wanted.wait())
                waits.add(reloads)
                continue
            code = _judge(done, tasks, monitoring)
            if code != EXIT_OK:
                break
    finally:
        stop.set()
        for task in (*waits, *tasks.all()):
            task.cancel()  # an in-flight request must not hold up a Ctrl+C for 30 seconds
        await asyncio.gather(*waits, *tasks.all(), return_exceptions=True)
    return code


def _judge(done: set[asyncio.Task[Any]], tasks: _Tasks, monitoring: Monitoring | None) -> int:
    """EXIT_INTERNAL when a task that finished died of a bug, or ended though only a stop
    ends it (a sender, the saver); else EXIT_OK (the scheduler ends when every feed is gone)."""
    crashed = [t for t in done if not t.cancelled() and t.exception() is not None]
    if crashed and monitoring is not None:
        monitoring.dead = str(crashed[0].exception())
    for task in crashed:
        exc = task.exception()
        name, cause = task.get_name(), exc
        if isinstance(exc, MonitorCrash):
            name, cause = exc.feed, exc.cause
        log.critical("%s stopped by an internal error; exiting so that it can be "
                     "restarted: %r", name, cause, exc_info=cause)
    if crashed:
        return EXIT_INTERNAL
    if (ended := tasks.others & done) and not tasks.stop.is_set():
        log.critical("%s ended unexpectedly; exiting", next(iter(ended)).get_name())
        return EXIT_INTERNAL
    return EXIT_OK


async def _reload(fleet: Fleet, scheduler: Scheduler, tasks: _Tasks,
                  monitoring: Monitoring | None, settings: Settings, reload: Reload
                  ) -> Settings:
    """Read the configuration again and apply it; the settings now in force."""
    try:
        new = reload.settings()
    except ConfigError as exc:
        log.error("reload: %s; the configuration in use stays", exc)
        return settings
    for key in _FIXED_SETTINGS:
        if getattr(new, key) != getattr(settings, key):
            log.warning("reload: %s takes effect at the next start, not now", key)
            setattr(new, key, getattr(settings, key))
    on, off, senders_on, senders_off = fleet.apply(new)
    for monitor in off:
        scheduler.remove(monitor)
    for monitor in on:
        scheduler.add(monitor)
    for sender in senders_off:
        await tasks.stop_sender(sender)
    for sender in senders_on:
        tasks.start_sender(sender)
    if monitoring is not None:
        monitoring.replace(list(fleet.monitors.values()), list(fleet.senders.values()))
    log.info("reload: %s; %s started, %s stopped; %s started, %s stopped",
             describe_watch(new), plural(len(on), "feed"), plural(len(off), "feed"),
             plural(len(senders_on), "webhook"), plural(len(senders_off), "webhook"))
    _say_unknown_route_feeds(new)
    return new


async def read_board_entry(shared: Shared, feed: FeedConfig, now: datetime) -> BoardEntry:
    """One provider, read live: its feed, and for a Statuspage page its summary.json. A
    hostile source spoils its own line of the board, never the others'."""
    try:
        return await _read_board_entry(shared, feed, now)
    except Exception as exc:
        log.debug("%s: board traceback", feed.name, exc_info=exc)
        return BoardEntry(feed.name, error="internal error while reading: "
                                           f"{exception_words(exc, 160)}")


async def _read_board_entry(shared: Shared, feed: FeedConfig, now: datetime) -> BoardEntry:
    entry = BoardEntry(feed.name)
    try:
        url, body, base, listing = await _board_source(shared, feed, now)
        job = (body, url, now)
        doc = (await in_daemon_thread(timed_read, job) if len(body) > INLINE_PARSE_LIMIT
               else timed_read(job))[0]
    except FeedError as exc:
        entry.error = str(exc)
        return entry
    entry.incidents = [_reported(i) for i in doc.incidents if i.active and not i.maintenance]
    for inc in entry.incidents:  # incident.io names component states in the feed itself
        entry.components += [(name, status_word(key)) for name, key in
                             filter(None, map(label_state, inc.components))
                             if key != "operational"]
    statuspage = any(i.code for i in doc.incidents) or bool(
        _STATUSPAGE_FEED_ID.search(body, 0, 4096))
    listed = doc.components
    if listed is None and listing not in (None, url) and not statuspage and not base:
        # A document without component states (Status.io's RSS): the page's own list
        # beside it says which are down, which the gate must see.
        listed = await component_list(shared, listing, now)
        if listed is None:
            entry.api_error = "its component list could not be read"
    if listed is not None:
        entry.names = [c.name for c in listed]
        entry.components = [(c.name, status_word(c.status)) for c in listed
                            if c.status and c.status != "operational"]
    if doc.windows is not None and feed.options.maintenance:
        entry.maintenance = board_windows(doc.windows, now)
    base = base or (api_base(url) if statuspage else None)
    if base is not None and feed.options.api != "off":
        await _board_api(shared, entry, base, feed, now)
    return entry


async def _board_source(shared: Shared, feed: FeedConfig, now: datetime
                        ) -> tuple[str, bytes, str | None, str | None]:
    """The body the board reads for a page (found on the page when the address is a web
    page's), its address, its Statuspage API and where its components are listed, where
    known."""
    url, base, listing = feed.url, feed.options.api_url, feed.options.components_url
    for attempt in range(2):
        try:
            async with shared.limiter(url):
                result = await fetch(shared.session, url, FeedState(), now=now,
                                     proxy=shared.proxies.for_url(url))
            return url, result.body or b"", base, listing
        except FeedError as exc:
            if not exc.html or attempt:
                raise
            found = (await discover(shared, url, now)).found
            url, base, listing = found.url, base or found.api, listing or found.components
    raise AssertionError("unreachable: the second attempt returns or raises")


async def _board_api(shared: Shared, entry: BoardEntry, base: str, feed: FeedConfig,
                     now: datetime) -> None:
    """What a Statuspage page's summary.json adds to the board: every component not
    operational, each open incident's components and impact, maintenance."""
    source = ApiSource(f"{base.rstrip('/')}/api/v2/summary.json", "incidents")
    try:
        async with shared.limiter(source.url):
            summary = await fetch(shared.session, source.url, source, now=now,
                                  max_body=MAX_API_BODY, timeout=API_TIMEOUT,
                                  base_headers=API_HEADERS, check_body=_check_json_body,
                                  proxy=shared.proxies.for_url(source.url))
        if summary.body is None:
            raise FeedError("no body")
        components, open_incidents, windows, entry.names = read_api_summary(summary.body)
    except (FeedError, ApiShapeError) as exc:
        entry.api_error = str(exc)
        return
    entry.components = components
    entry.incidents = [enrich(i, open_incidents.get(i.code)) for i in entry.incidents]
    known = {i.code for i in entry.incidents}
    for code, api_incident in open_incidents.items():  # opened after the feed was written
        if code not in known:
            entry.incidents.append(Incident(
                id=code, title=api_incident.title, link=api_incident.link,
                status=api_incident.status.capitalize(), components=api_incident.components,
                message="", published=api_incident.updates[0].at if api_incident.updates
                else None, updated=None, code=code, impact=api_incident.impact))
    if feed.options.maintenance:
        entry.maintenance = board_windows(windows, now)


async def run_status(settings: Settings, *, clock: Clock, proxies: Proxies | None = None,
                     stop: asyncio.Event | None = None, stdout: TextIO | None = None,
                     colour: bool | None = None) -> int:
    """--status: read every provider once and print the board; 0 when every source was read.
    A stop prints the board of the pages read so far, the others "not read: stopped" (1).
    A --state file is only read (no lock, never written): a running tracker may own it."""
    out = stdout or sys.stdout
    watcher: Mapping[str, FeedState] = {}
    if settings.state is not None and settings.state.exists():
        store = StateStore(settings.state, clock=clock)
        try:
            store.load(read_only=True)
            watcher = store.feeds
        except StateFileError as exc:
            log.warning("%s; the board shows live reads only", exc)
    now = clock.now()
    async with new_session(settings.contact, aiohttp.TCPConnector(limit=0)) as session:
        shared = Shared(session, clock=clock, limiter=HostLimiter(settings.per_host),
                        proxies=proxies or Proxies(environ={}))
        reads = await _run_until([read_board_entry(shared, feed, now)
                                  for feed in settings.feeds], stop or asyncio.Event(), math.inf)
    entries = [BoardEntry(feed.name, error=STOPPED) if task.cancelled() else task.result()
               for feed, task in zip(settings.feeds, reads, strict=True)]
    for feed, entry in zip(settings.feeds, entries, strict=True):
        if (known := watcher.get(feed.url)) is not None:
            entry.watcher_failures = known.failures
    failing = _failed_on(settings, entries)  # said first: a CI log's reader looks there
    if settings.as_json:
        board = board_to_dict(entries, now=now)
        if settings.fail_on:
            board["fail_on"] = {"level": settings.fail_on, "failing": failing}
        out.write(json.dumps(board, ensure_ascii=False) + "\n")
    else:
        if colour is None:
            colour = _is_terminal(out) and not os.environ.get("NO_COLOR")
        out.write(render_board(entries, now=now, colour=colour) + "\n")
    out.flush()
    if failing:
        return EXIT_FAIL_ON
    read = all(e.error is None and e.api_error is None for e in entries)
    return EXIT_OK if read else EXIT_FEED_FAILED


def _failed_on(settings: Settings, entries: Sequence[BoardEntry]) -> dict[str, list[str]]:
    """--fail-on: each page at that level or worse with why, said in one line on stderr."""
    if settings.fail_on is None:
        return {}
    failing = {}
    for feed, entry in zip(settings.feeds, entries, strict=True):
        if reasons := fail_reasons(entry, settings.fail_on, feed.options.filter.components):
            failing[entry.name] = reasons
    if failing:
        log.error("--fail-on %s: %s", settings.fail_on, ", ".join(
            f"{name} ({'; '.join(reasons)})" for name, reasons in failing.items()))
    return failing


# #### Running: the history's report (--report) ###################################################


# Statuspage's own weighting for uptime: a minute of major outage is a minute down, one of
# partial outage 30 seconds' worth; degraded performance and maintenance are not downtime.
_DOWN_WEIGHT = {"major_outage": 1.0, "partial_outage": 0.3}
_REPORTED_STATES = ("major_outage", "partial_outage", "under_maintenance")
_ESTIMATED_STATE = {Impact.CRITICAL: "major_outage", Impact.MAJOR: "partial_outage"}


@dataclass
class VendorReport:
    """One vendor's figures over the report's window."""

    feed: str
    incidents: dict[str, int] = field(default_factory=dict)  # impact (or "not said"): count
    minutes: dict[str, dict[str, float]] = field(default_factory=dict)  # component: state: min
    uptime: float | None = None  # percent
    longest: tuple[str, float, bool] | None = None  # title, minutes, still open
    mean_to_resolve: float | None = None  # minutes
    resolved: int = 0
    estimated: bool = False  # no component states recorded: outage minutes from incidents
    recorded_from: float | None = None  # when the history of it begins, if within the window


def _uptime(spans: Iterable[tuple[str, float, float]], start: float, end: float) -> float:
    """Percent of the window the vendor was up: at each moment its worst component counts
    (one sweep over the spans' edges, however many components and changes)."""
    edges = sorted((t, step, weight) for state, low, high in spans
                   if (weight := _DOWN_WEIGHT.get(state))
                   for t, step in ((low, 1), (high, -1)))
    active: collections.Counter[float] = collections.Counter()
    down, last = 0.0, start
    for t, step, weight in edges:
        if active:
            down += max(active) * (t - last)
        active[weight] += step
        if not active[weight]:
            del active[weight]
        last = t
    return 100.0 * (1 - down / (end - start)) if end > start else 100.0


def vendor_report(feed: str, incidents: Sequence[tuple[str, str | None, float | None,
                                                       float | None]],
                  components: Mapping[str, Sequence[tuple[str, float]]], start: float,
                  end: float, recorded_from: float | None = None) -> VendorReport:
    """The figures of one vendor from its recorded timeline: incidents as (title, impact,
    started, resolved) and each component's status changes. Without component states the
    outage minutes and uptime are estimated from the incidents' impact and duration. Time
    before the history of it began (`recorded_from`) is not counted as up: the uptime is of
    the time recorded."""
    report = VendorReport(feed)
    if recorded_from is not None and recorded_from > start:
        report.recorded_from = start = min(recorded_from, end)
    spans = {name: _spans(changes, start, end) for name, changes in components.items()}
    durations = []
    for title, impact, started, resolved in incidents:
        said = impact or "not said"
        report.incidents[said] = report.incidents.get(said, 0) + 1
        if started is None:
            continue
        length = ((resolved if resolved is not None else end) - started) / 60
        if report.longest is None or length > report.longest[1]:
            report.longest = (title, length, resolved is None)
        if resolved is not None:
            durations.append(length)
        state = _ESTIMATED_STATE.get(Impact.read(impact) or Impact.NONE)
        if not components and state:
            low, high = max(started, start), min(resolved if resolved else end, end)
            if high > low:
                spans.setdefault("(the whole page)", []).append((state, low, high))
    report.estimated = not components
    for name, parts in spans.items():
        totals = {s: sum(b - a for st_, a, b in parts if st_ == s) / 60
                  for s in _REPORTED_STATES}
        if any(totals.values()):
            report.minutes[name] = {s: m for s, m in totals.items() if m}
    report.uptime = _uptime((p for parts in spans.values() for p in parts), start, end)
    report.resolved = len(durations)
    report.mean_to_resolve = sum(durations) / len(durations) if durations else None
    return report


def history_feeds(db: sqlite3.Connection) -> list[str]:
    """Every feed the history holds anything of, by the name its watch gave it."""
    return [row[0] for row in db.execute(
        "SELECT feed FROM events UNION SELECT feed FROM incidents UNION SELECT feed FROM "
        "components ORDER BY 1")]


def read_report(db: sqlite3.Connection, start: float, end: float,
                names: Sequence[str]) -> list[VendorReport]:
    """The vendors of `names` (as the history has them), over [start, end]."""
    reports = []
    for feed in names:
        recorded_from = db.execute(
            "SELECT MIN(t) FROM (SELECT MIN(recorded) AS t FROM events WHERE feed = ? "
            "UNION ALL SELECT MIN(since) FROM components WHERE feed = ?)",
            (feed, feed)).fetchone()[0]
        incidents = db.execute(
            """SELECT title, impact, started, resolved FROM incidents WHERE feed = ?
               AND maintenance = 0 AND (started IS NULL OR started <= ?)
               AND (resolved IS NULL OR resolved >= ?) ORDER BY started""",
            (feed, end, start)).fetchall()
        changes: dict[str, list[tuple[str, float]]] = {}
        for name, status, since in db.execute(
                "SELECT name, status, since FROM components WHERE feed = ? AND since <= ? "
                "ORDER BY name, since", (feed, end)):
            changes.setdefault(name, []).append((status, since))
        reports.append(vendor_report(feed, incidents, changes, start, end, recorded_from))
    return reports


def _minutes(value: float) -> str:
    minutes = round(value)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes < 2880 else f"{minutes // 1440} days"


def _span_words(seconds: float) -> str:
    """"30 days", "12 hours", "1.5 days", "90 minutes": a window as people say it."""
    count, unit = ((seconds / 60, "minute") if seconds < 7200 else (seconds / 3600, "hour")
                   if seconds < 2 * 86_400 else (seconds / 86_400, "day"))
    return f"{round(count, 1):g} {unit}{'' if round(count, 1) == 1 else 's'}"


def report_text(reports: Sequence[VendorReport], start: datetime, end: datetime) -> str:
    window = (end - start).total_seconds()
    lines = [f"From {_stamp(start)} to {_stamp(end)} ({_span_words(window)}): "
             f"{plural(len(reports), 'vendor')}"]
    for r in reports:
        count = sum(r.incidents.values())
        by_impact = ", ".join(f"{n} {i}" for i, n in sorted(
            r.incidents.items(), key=lambda kv: -Impact(kv[0]).rank
            if kv[0] in _IMPACT_NAMES else 1))
        outage = "; ".join(
            f"{name}: " + ", ".join(f"{_minutes(m)} {state.replace('_', ' ')}"
                                    for state, m in states.items())
            for name, states in r.minutes.items()) or "none recorded"
        covered = "" if r.recorded_from is None else (
            f" since {_stamp(_from_epoch(r.recorded_from))}, when its recording began")
        lines += [r.feed, f"  incidents        {count}{': ' + by_impact if count else ''}",
                  f"  uptime           {r.uptime:.2f}%" + (" (estimated)" if r.estimated
                                                            else "") + covered,
                  f"  outage           {outage}" + (
                      " (estimated from the incidents' impact: the page gave no component "
                      "states)" if r.estimated else "")]
        if r.longest is not None:
            title, length, still = r.longest
            lines.append(f"  longest          {title}: {_minutes(length)}"
                         + (" (still open)" if still else ""))
        if r.mean_to_resolve is not None:
            lines.append(f"  time to resolve  {_minutes(r.mean_to_resolve)} on average over "
                         f"{plural(r.resolved, 'resolved incident')}")
    return "\n".join(lines)


_SINCE = re.compile(r"(\d+(?:\.\d+)?)\s*([hdw])")


def since_seconds(text: str) -> float:
    """"30d", "12h", "2w": the report's window, in seconds."""
    match = _SINCE.fullmatch(text.strip().lower())
    if not match or float(match[1]) <= 0:
        raise ValueError(f"expected a span such as 30d, 12h or 2w, got {clean_text(text)[:20]!r}")
    return float(match[1]) * {"h": 3600, "d": 86_400, "w": 604_800}[match[2]]


def _report_names(settings: Settings, known: Sequence[str]) -> list[str]:
    """The feeds --report is about: those named (by the name their watch gave them, or a
    catalogued page's), as the history spells them; all of it when none is named. A name
    the history lacks is a mistake, said with the names it has."""
    if not settings.feeds_given:
        return list(known)
    spelled = {name.lower(): name for name in known}
    missing = [f.name for f in settings.feeds if f.name.lower() not in spelled]
    if missing:
        raise HistoryError(f"--report: no history of {', '.join(map(repr, missing))}; it "
                           f"holds {', '.join(known) or 'nothing yet'}")
    return [spelled[f.name.lower()] for f in settings.feeds]


def run_report(settings: Settings, since: float, *, clock: Clock, out: TextIO) -> int:
    """--report: each vendor's incidents, outage minutes, uptime, longest incident and mean
    time to resolve over the window, from the history (read only: a watch may be writing)."""
    path = history_path(settings)
    if path is None:
        raise HistoryError("--report reads the history: give --state or --history-db")
    db = open_history(path, read_only=True)
    try:
        end = clock.now()
        start = end - timedelta(seconds=since)
        known = history_feeds(db)
        names = _report_names(settings, known)
        reports = read_report(db, start.timestamp(), end.timestamp(), names)
    finally:
        db.close()
    if settings.as_json:
        out.write(json.dumps({"from": _iso(start), "to": _iso(end), "vendors": [
            {"feed": r.feed, "incidents": r.incidents, "uptime": r.uptime,
             "estimated": r.estimated, "outage_minutes": r.minutes,
             "longest": None if r.longest is None else {
                 "title": r.longest[0], "minutes": r.longest[1], "open": r.longest[2]},
             "mean_minutes_to_resolve": r.mean_to_resolve, "resolved": r.resolved,
             "recorded_from": _iso(_from_epoch(r.recorded_from))}
            for r in reports]}, ensure_ascii=False) + "\n")
    else:
        out.write(report_text(reports, start, end) + "\n")
    out.flush()
    return EXIT_OK


# #### Running: a page looked up (--discover, --components) ########################################


class Lookup(typing.NamedTuple):
    """A page as --discover and --components see it: its name, where it is, what serves it."""

    name: str
    page: str
    found: Found
    how: str = ""


async def look_up(shared: Shared, target: str, now: datetime) -> Lookup:
    """A catalogue key or name, or an address: the catalogue says what a known page serves;
    any other address is looked at (discover). FeedError when nothing is found."""
    page = find_page(target)
    if page is not None and page.platform is not Platform.UNKNOWN:
        return Lookup(page.name, page.page, Found(str(page.platform), page.url, page.api,
                                                  page.components_url), "the catalogue")
    if page is None:
        try:
            url = check_url(target)
        except ValueError:
            raise FeedError(unknown_page(target)) from None
    else:
        url = page.page
    discovery = await discover(shared, url, now)
    host = urllib.parse.urlsplit(url).hostname or url
    name = page.name if page is not None else _page_name(discovery.title, host)
    return Lookup(name, url, discovery.found, discovery.how)


def _config_lines(lookup: Lookup) -> list[str]:
    lines = ["[[feeds]]", f"name = {json.dumps(lookup.name, ensure_ascii=False)}"]
    page = find_page(lookup.page)
    if page is not None and page.url == lookup.found.url:
        return [*lines, f"page = {json.dumps(page.key)}"]
    lines.append(f"url = {json.dumps(lookup.found.url)}")
    if lookup.found.api and lookup.found.api != api_base(lookup.found.url):
        lines.append(f"api_url = {json.dumps(lookup.found.api)}")
    elif lookup.found.components and lookup.found.components != lookup.found.url:
        lines.append(f"components_url = {json.dumps(lookup.found.components)}")
    return lines


def _discovery_text(lookup: Lookup) -> str:
    found = lookup.found
    label = Platform(found.platform).label if found.platform in tuple(Platform) else (
        found.platform)
    lines = [f"{lookup.name}: {label} (found by {lookup.how})" if lookup.how
             else f"{lookup.name}: {label}",
             f"  page        {lookup.page}", f"  polled      {found.url}"]
    if found.api:
        lines.append(f"  status API  {found.api}/api/v2/")
    if found.components:
        lines.append(f"  components  {found.components}")
    return "\n".join([*lines, "", "For the config file:", "", *_config_lines(lookup)])


async def run_discover(target: str, *, clock: Clock, proxies: Proxies, contact: str | None,
                       as_json: bool, out: TextIO) -> int:
    """--discover: what the tracker would poll for a page, and the config lines for it."""
    async with new_session(contact, aiohttp.TCPConnector(limit=0)) as session:
        shared = Shared(session, clock=clock, proxies=proxies)
        try:
            lookup = await look_up(shared, target, clock.now())
        except FeedError as exc:
            log.error("%s: %s", clean_text(target)[:200], exc)
            return EXIT_FEED_FAILED
    if as_json:
        out.write(json.dumps({"name": lookup.name, "page": lookup.page, "how": lookup.how,
                              **lookup.found.to_json()}, ensure_ascii=False) + "\n")
    else:
        out.write(_discovery_text(lookup) + "\n")
    out.flush()
    return EXIT_OK


async def read_components(shared: Shared, lookup: Lookup, now: datetime
                          ) -> tuple[list[Component], str]:
    """A page's components with their states, from its component list where its platform
    keeps one, else those its polled document's incidents name (their state unknown); and
    where they came from."""
    source = lookup.found.components or lookup.found.url
    async with shared.limiter(source):
        result = await fetch(shared.session, source, FeedState(), now=now,
                             max_body=shared.max_body, timeout=API_TIMEOUT,
                             proxy=shared.proxies.for_url(source))
    doc = read_page(result.body or b"", source, now)
    if doc.components is not None:
        return doc.components, source
    named = dict.fromkeys(state[0] if (state := label_state(c)) else c
                          for i in doc.incidents for c in i.components)
    return [Component(name, "") for name in named], source


def _components_text(lookup: Lookup, components: Sequence[Component], source: str) -> str:
    label = (Platform(lookup.found.platform).label if lookup.found.platform in tuple(Platform)
             else lookup.found.platform)
    listed = lookup.found.components is not None and source == lookup.found.components
    head = (f"{lookup.name} ({label}): {plural(len(components), 'component')}"
            + ("" if listed else " named by its incidents (it keeps no list of them)"))
    width = max((len(c.name) for c in components), default=0) + 4
    lines = [head]
    groups: dict[str | None, list[Component]] = {}
    for comp in components:
        groups.setdefault(comp.group, []).append(comp)
    for group, members in sorted(groups.items(), key=lambda g: g[0] is not None):
        indent = "  " if group is None else "    "
        if group is not None:
            lines.append(f"  {group}")
        lines += [f"{indent}{c.name.ljust(width - len(indent) + 2)}{status_word(c.status)}"
                  .rstrip() for c in members]
    return "\n".join(lines)


async def run_components(target: str, *, clock: Clock, proxies: Proxies,
                         contact: str | None, as_json: bool, out: TextIO) -> int:
    """--components: a page's components and their states, to write a filter with."""
    async with new_session(contact, aiohttp.TCPConnector(limit=0)) as session:
        shared = Shared(session, clock=clock, proxies=proxies)
        try:
            lookup = await look_up(shared, target, clock.now())
            components, source = await read_components(shared, lookup, clock.now())
        except (FeedError, ApiShapeError) as exc:
            log.error("%s: %s", clean_text(target)[:200], exc)
            return EXIT_FEED_FAILED
    if as_json:
        out.write(json.dumps({"name": lookup.name, "page": lookup.page, "source": source,
                              "components": [{"name": c.name, "status": c.status or None,
                                              "group": c.group} for c in components]},
                             ensure_ascii=False) + "\n")
    else:
        out.write(_components_text(lookup, components, source) + "\n")
    out.flush()
    return EXIT_OK


# #### The CLI: options, the config file, main() ###################################################


def metrics_address(text: str) -> tuple[str, int]:
    """"PORT" (on 127.0.0.1) or "HOST:PORT" ("[::1]:9100" for IPv6); port 0 is any free one,
    which the start says."""
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host = "127.0.0.1"
    host = host.strip("[]")
    if not port.isdigit() or not 0 <= int(port) < 65536 or (sep and not host):
        raise ValueError(f"expected PORT or HOST:PORT, got {clean_text(text)[:40]!r}")
    return host, int(port)


def page_feed(name: str | None, page: Page) -> FeedConfig:
    """A catalogued page as a feed to watch, under its own name unless one is given."""
    return FeedConfig(name or page.name, page.url, page=page, options=FeedOptions(
        api_url=page.api, components_url=page.components_url))


def resolve_feed(text: str) -> FeedConfig:
    """--feed's forms: NAME=URL, NAME=KEY, KEY (or a catalogued name), or a URL alone;
    ValueError says what is wrong."""
    name, sep, target = text.partition("=")
    if sep and re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", text):
        name, sep, target = "", "", text  # a URL alone, with "=" in its query
    if not sep:
        name, target = "", text
    name, target = feed_name(name).strip(), target.strip()
    if sep and not name:
        raise ValueError(f"expected NAME=URL or NAME=PAGE, got {clean_text(text)[:40]!r}")
    if "://" in target:
        try:
            url = check_url(target)
        except ValueError as exc:
            raise ValueError(f"feed {name!r}: {exc}" if name else str(exc)) from None
        page = find_page(url)
        if page is not None and url.rstrip("/") == page.page.rstrip("/"):
            return page_feed(name, page)
        host = urllib.parse.urlsplit(url).hostname or url
        return FeedConfig(name or feed_name(host), url)
    page = find_page(target)
    if page is None:
        raise ValueError(unknown_page(target))
    return page_feed(name, page)


def _feed_arg(text: str) -> FeedConfig:
    try:
        return resolve_feed(text)
    except ValueError as exc:
        if "=" in text or "://" in text or not text.strip():
            raise argparse.ArgumentTypeError(str(exc)) from None
        return FeedConfig(feed_name(text).strip(), "", unknown=str(exc))


def _component_arg(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("a component name cannot be empty")
    return text.strip()


def _webhook_arg(text: str) -> str:
    try:
        return check_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{exc} (the value is not shown: a webhook URL holds its secret)") from None


def _number(value: object, minimum: float = 0) -> float:
    # TOML booleans are ints to Python, and TOML allows nan and inf: all three are mistakes.
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(
            value) and value >= minimum:
        return float(value)
    raise ValueError(f"expected a number >= {minimum:g}, got {value!r}")


def _interval(value: object) -> float:
    return _number(value, MIN_INTERVAL)


def _whole(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f"expected a whole number >= 1, got {value!r}")


def _non_empty(value: object) -> str:
    if isinstance(value, str) and value:
        return value
    raise ValueError("expected a non-empty string")


def _path(value: object) -> Path:
    return Path(_non_empty(value)).expanduser()


def _metrics(value: object) -> tuple[str, int]:
    return metrics_address(str(value) if isinstance(value, int | str) else "")


_MAILTO = re.compile(r"mailto:[^\s@<>()]+@[^\s@<>()]+")


def _contact(value: object) -> str:
    """A mailto: address or an http(s) URL: it goes into a request header, so nothing that
    could break the header (spaces, control characters) gets through."""
    text = _non_empty(value)
    if _MAILTO.fullmatch(text) and text.isascii() and text.isprintable():
        return text
    try:
        return check_url(text)
    except ValueError:
        raise ValueError(f"expected mailto:ADDRESS or an http(s) URL, got "
                         f"{clean_text(text)[:60]!r}") from None


def _history_db(value: object) -> Path | str:
    """A path, or "off"."""
    text = _non_empty(value)
    return "off" if text.strip().lower() == "off" else Path(text).expanduser()


def _proxy(value: object) -> str:
    return proxy_url(_non_empty(value), "")  # the option's name is added by its reader


def _number_text(text: str) -> object:
    """A flag's text as the number a TOML file would hold ("3" an int, "2.5" a float)."""
    try:
        return int(text) if re.fullmatch(r"\s*[+-]?\d+\s*", text) else float(text)
    except ValueError:
        raise ValueError(f"not a number: {clean_text(text)[:40]!r}") from None


@dataclass(frozen=True, slots=True)
class Option:
    """A top-level setting: its config-file key (also its Settings field, and with dashes its
    flag) and the one check that a config value and a flag's text both go through."""

    key: str
    check: Callable[[object], object]
    metavar: str
    help: str
    from_text: Callable[[str], object] = str  # a flag's text as the value TOML would hold
    alias: str | None = None  # an older name, flag and key, still taken

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def flags(self) -> tuple[str, ...]:
        return (self.flag, *((f"--{self.alias.replace('_', '-')}",) if self.alias else ()))

    def parse_flag(self, text: str) -> object:
        try:
            return self.check(self.from_text(text))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None


OPTIONS = (
    Option("interval", _interval, "SECONDS",
           f"seconds between polls of a feed, at least {MIN_INTERVAL:g} (default "
           f"{DEFAULT_INTERVAL:g}; the flag overrides every feed's own)", _number_text),
    Option("max_interval", _number, "SECONDS",
           "ceiling for server cache hints, Retry-After and backoff (default "
           f"{DEFAULT_MAX_INTERVAL:g})", _number_text),
    Option("per_host", _whole, "N", f"requests in flight per host (default {DEFAULT_PER_HOST})",
           _number_text),
    Option("failure_threshold", _whole, "N",
           "consecutive failed polls before a feed_down event (default "
           f"{DEFAULT_FAILURE_THRESHOLD})", _number_text),
    Option("history", _whole, "N",
           "on first sight of a feed, also print its N most recent incidents", _number_text),
    Option("state", _path, "PATH",
           "JSON file that keeps what was reported across restarts (its folder is created "
           "if its parent exists)"),
    Option("webhook_secret", _non_empty, "SECRET",
           f"sign webhook bodies with HMAC-SHA256 (or set {SECRET_ENV})"),
    Option("serve", _metrics, "[HOST:]PORT",
           "serve the page of your dependencies (/, /vendor/KEY, /events), /feed.atom, "
           "/maintenance.ics, /metrics "
           "(Prometheus), /healthz, /readyz and /status there while watching (PORT alone "
           "listens on 127.0.0.1; --metrics is its older name)", alias="metrics"),
    Option("history_db", _history_db, "PATH",
           "the history database (SQLite) of every event, for --report and the page (default: "
           "beside the --state file; off: none)"),
    Option("history_days", _whole, "DAYS",
           f"days of history kept (default {HISTORY_DAYS}; older ones are pruned daily)",
           _number_text),
    Option("contact", _contact, "CONTACT",
           "mailto:ADDRESS or a URL sent in the User-Agent, so that a status page's operators "
           "can reach you"),
    Option("proxy", _proxy, "URL",
           "send every request through this HTTP proxy (http://[USER:PASSWORD@]HOST:PORT), "
           "whatever HTTPS_PROXY, HTTP_PROXY and NO_PROXY say; without it they are used"),
)


_TABLE_KEYS = ("feeds", "notify", "webhooks")
_CONFIG_KEYS = (*(o.key for o in OPTIONS), *_TABLE_KEYS)


@dataclass(slots=True)
class ConfigFile:
    """What a config file sets; what it leaves out keeps its default."""

    values: dict[str, object] = field(default_factory=dict)  # checked, by Option.key
    feeds: list[FeedConfig] | None = None
    routes: list[Route] = field(default_factory=list)  # [[notify]]
    webhooks: list[str] = field(default_factory=list)


def _read_config(path: Path) -> str:
    """The text of a config file: a regular file of at most MAX_CONFIG_BYTES (a FIFO would
    block and /dev/zero never ends), UTF-8 with or without a byte order mark."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path}: not a regular file")
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; "
                              "not a config file?")
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def load_config(path: Path) -> ConfigFile:
    """Read and check a TOML config file; every error names the file and the key."""
    path = path.expanduser()
    try:
        data = tomllib.loads(_read_config(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    options = {o.key: o for o in OPTIONS} | {o.alias: o for o in OPTIONS if o.alias}
    config = ConfigFile()
    for key, value in data.items():
        where = f"{path}: {key}"
        if option := options.get(key):
            try:
                config.values[option.key] = option.check(value)
            except ValueError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        elif key == "webhooks":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: expected a list of URLs")
            for i, url in enumerate(value):
                try:
                    check_url(url)
                except ValueError:
                    raise ConfigError(f"{path}: webhooks[{i}]: not an http(s) URL") from None
            config.webhooks = list(value)
        elif key == "feeds":
            config.feeds = _config_feeds(path, value)
        elif key == "notify":
            config.routes = _config_routes(path, value)
        else:
            raise ConfigError(f"{where}: unknown key (known: {', '.join(sorted(_CONFIG_KEYS))})")
    return config


_ROUTE_KEYS = {"url", "feeds", "components", "min_impact", "kinds", "format", "quiet_hours",
               "timezone", "digest", "secret", "urgent"}


_QUIET_HOURS = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h)?")


def _strings(where: str, value: object, allowed: Sequence[str] = ()) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    bad = [v for v in value if allowed and v not in allowed]
    if bad:
        raise ConfigError(f"{where}: unknown {bad[0]!r} (known: {', '.join(allowed)})")
    return tuple(value)


def _config_tables(path: Path, value: object, key: str, allowed: Iterable[str], needs: str
                   ) -> list[tuple[str, dict[str, object]]]:
    """The [[key]] tables of a config file, each with where it is ("file: key[i]") for the
    errors that name the file, the index and the key; unknown keys are refused."""
    if not isinstance(value, list):
        raise ConfigError(f"{path}: {key}: expected an array of tables ([[{key}]])")
    tables = []
    for i, item in enumerate(value):
        where = f"{path}: {key}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a table with {needs}")
        if unknown := set(item) - set(allowed):
            raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
        tables.append((where, item))
    return tables


def _config_routes(path: Path, value: object) -> list[Route]:
    """[[notify]] tables; every error names the file, the route's index and the key."""
    return [_config_route(where, item)
            for where, item in _config_tables(path, value, "notify", _ROUTE_KEYS, "a url")]


def _config_route(where: str, item: Mapping[str, object]) -> Route:
    url, fmt = _route_url(where, item)
    zone = item.get("timezone", "UTC")
    try:
        _zone(zone if isinstance(zone, str) else "")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}.timezone: unknown time zone {zone!r} (on a system without "
                          "time zone data: pip install tzdata)") from None
    secret = item.get("secret")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise ConfigError(f"{where}.secret: expected a non-empty string")
    return Route(
        url=url, feeds=_strings(f"{where}.feeds", item.get("feeds", [])),
        filter=_config_filter(where, item),
        kinds=_strings(f"{where}.kinds", item.get("kinds", []), tuple(Kind)), format=fmt,
        quiet_hours=_quiet_hours(where, item.get("quiet_hours")), timezone=str(zone),
        digest=_digest_seconds(where, item.get("digest")), secret=secret,
        urgent=_config_bool(f"{where}.urgent", item.get("urgent", False)))


def _route_url(where: str, item: Mapping[str, object]) -> tuple[str, Format]:
    """A route's URL and format: an http(s) URL, or any scheme that Apprise (installed)
    reads. Errors never repeat the URL: it holds its secret."""
    url = item.get("url")
    given = item.get("format", "auto")
    if not isinstance(given, str) or given not in tuple(Format):
        raise ConfigError(f"{where}.format: expected one of {', '.join(Format)}, "
                          f"got {given!r}")
    fmt = Format(given)
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{where}.url: missing")
    if resolve_format(url, fmt) is not Format.APPRISE:
        try:
            return check_url(url), fmt
        except ValueError as exc:
            raise ConfigError(f"{where}.url: {exc} (the value is not shown: it holds its "
                              "secret)") from None
    if not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", url):
        raise ConfigError(f"{where}.url: not a URL (the value is not shown: it may hold a "
                          "secret)")
    if not apprise_available():
        raise ConfigError(f"{where}.url: this route is sent through Apprise, which is not "
                          "installed: pip install apprise")
    return url, fmt


def _quiet_hours(where: str, hours: object) -> tuple[int, int] | None:
    """"22:00-07:00" as minutes after midnight (from, until)."""
    if hours is None:
        return None
    match = _QUIET_HOURS.fullmatch(hours.strip()) if isinstance(hours, str) else None
    if not match:
        raise ConfigError(f"{where}.quiet_hours: expected \"HH:MM-HH:MM\", got {hours!r}")
    start, end = int(match[1]) * 60 + int(match[2]), int(match[3]) * 60 + int(match[4])
    if start == end:
        raise ConfigError(f"{where}.quiet_hours: the window is empty")
    return start, end


def _digest_seconds(where: str, text: object) -> float | None:
    """"15m", "1h" or "90s" in seconds."""
    if text is None:
        return None
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match or float(match[1]) <= 0:
        raise ConfigError(f"{where}.digest: expected a duration such as \"15m\", \"1h\" "
                          f"or \"90s\", got {text!r}")
    return float(match[1]) * {"s": 1, "m": 60, "h": 3600}[match[2] or "s"]


def _config_feeds(path: Path, value: object) -> list[FeedConfig]:
    feeds = []
    for where, item in _config_tables(path, value, "feeds",
                                      {"name", "url", "page", "interval", *_FEED_OPTION_KEYS},
                                      "a page, or a name and a url"):
        page = _config_page(where, item.get("page"))
        name, url = item.get("name", page.name if page else None), item.get("url")
        if not isinstance(name, str) or not feed_name(name):
            raise ConfigError(f"{where}.name: missing or empty")
        if page is not None and url is None:
            url = page.url
        if not isinstance(url, str):
            raise ConfigError(f"{where}.url: missing (or give a page from the catalogue: "
                              "page = \"github\")")
        try:
            check_url(url)
        except ValueError as exc:
            raise ConfigError(f"{where}.url: {exc}") from None
        interval = item.get("interval")
        if interval is not None:
            try:
                interval = _interval(interval)
            except ValueError as exc:
                raise ConfigError(f"{where}.interval: {exc}") from None
        options = _feed_options(where, item)
        if page is not None and options.api_url is None and url == page.url:
            options = dataclasses.replace(options, api_url=page.api,
                                          components_url=options.components_url
                                          or page.components_url)
        feeds.append(FeedConfig(feed_name(name), url, interval, options,
                                page if page is not None and url == page.url else None))
    return feeds


def _config_page(where: str, value: object) -> Page | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.page: expected a key from the catalogue, e.g. \"github\"")
    page = find_page(value)
    if page is None:
        raise ConfigError(f"{where}.page: {unknown_page(value)}")
    return page


_FEED_OPTION_KEYS = ("api", "api_url", "components_url", "components", "min_impact",
                     "maintenance")


def _feed_options(where: str, item: Mapping[str, object]) -> FeedOptions:
    api = item.get("api", "auto")
    if api not in ("auto", "off"):
        raise ConfigError(f"{where}.api: expected \"auto\" or \"off\", got {api!r}")
    api_url, listing = (_config_url(where, item, key) for key in ("api_url", "components_url"))
    return FeedOptions(api=str(api), api_url=api_url, components_url=listing,
                       filter=_config_filter(where, item),
                       maintenance=_config_bool(f"{where}.maintenance",
                                                item.get("maintenance", True)))


def _config_url(where: str, item: Mapping[str, object], key: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    try:
        return check_url(value if isinstance(value, str) else "")
    except ValueError as exc:
        raise ConfigError(f"{where}.{key}: {exc}") from None


def _config_filter(where: str, item: Mapping[str, object]) -> EventFilter:
    """`components` and `min_impact`, read alike in [[feeds]] and [[notify]]."""
    components = item.get("components", [])
    if not isinstance(components, list) or not all(
            isinstance(c, str) and c.strip() for c in components):
        raise ConfigError(f"{where}.components: expected a list of component names")
    min_impact = item.get("min_impact")
    if min_impact is not None and min_impact not in IMPACTS:
        raise ConfigError(f"{where}.min_impact: expected one of {', '.join(IMPACTS)}, "
                          f"got {min_impact!r}")
    return EventFilter(tuple(components), str(min_impact) if min_impact else None)


def _config_bool(where: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false")
    return value


class LogFormatter(logging.Formatter):
    """Time, level, message. A person at a terminal gets the local time of day; a log file,
    journal or cron mail gets the full ISO 8601 date and time with its UTC offset, since
    such logs are read days later and across time zones."""

    def __init__(self, *, terminal: bool) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s")
        self.terminal = terminal

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        when = datetime.fromtimestamp(record.created).astimezone()
        return when.strftime("%H:%M:%S") if self.terminal else when.isoformat(timespec="seconds")


# How the user ran it: the installed command, or the script.
PROG = ("status-tracker" if Path(sys.argv[0] if sys.argv else "").name.startswith(
    "status-tracker") else "status_tracker.py")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        """One line, not argparse's usage block: the user's mistake is the whole message."""
        hint = "" if message.endswith(")") else " (see --help)"
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}{hint}\n")


def _add_lookups(parser: argparse.ArgumentParser) -> None:
    """The flags that look a page up and exit."""
    parser.add_argument("--discover", metavar="URL",
                        help="look at a status page's address (or a catalogue key): print its "
                             "platform, what the tracker would poll, and the config lines; exit")
    parser.add_argument("--components", metavar="PAGE",
                        help="print a page's components and their states (a catalogue key, "
                             "name or address), to choose a --component filter from; exit")
    parser.add_argument("--list-pages", nargs="*", metavar="WORD",
                        help="print the catalogue's pages that every WORD finds (a tag such "
                             "as ai or cloud, or part of a key or name; none: all) and exit")


def _add_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", action="store_true",
                        help="print each vendor's incidents, outage minutes, uptime, longest "
                             "incident and mean time to resolve from the history, and exit")
    parser.add_argument("--since", default="30d", metavar="SPAN",
                        help="--report's window, back from now: 30d (default), 12h, 2w")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Watch status-page Atom/RSS feeds and report new incidents and updates.",
        epilog=f"Default feeds: {', '.join(f'{n}={u}' for n, u in FEEDS)}. Exit codes: 0 ok; "
               "1 a feed could not be read (--once, --status), a webhook refused an event for "
               "good (--once), or the last state save failed; 2 bad usage; 3 --fail-on; 70 a "
               "task died of a bug; 130 interrupted; 141 the output's reader stopped reading.",
    )
    parser.add_argument("--feed", action="append", type=_feed_arg, metavar="PAGE|NAME=URL",
                        help="a page to watch, by its key in the catalogue (--feed github), "
                             "NAME=KEY, NAME=URL or a URL (repeatable; replaces the default "
                             "list and the config file's feeds)")
    _add_lookups(parser)
    _add_report(parser)
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML file with feeds, webhooks and settings; flags override it")
    parser.add_argument("--once", action="store_true",
                        help="poll each feed once, report, exit 0 if all were read, else 1")
    parser.add_argument("--status", action="store_true",
                        help="print the current state of every provider once (worst first: "
                             "feed health, components, open incidents, maintenance) and exit; "
                             "exit 0 if every source was read, else 1")
    parser.add_argument("--fail-on", choices=FAIL_ON_LEVELS, metavar="LEVEL",
                        help="with --status: exit 3, after one line saying why, when a page "
                             "(or a --component named) is at LEVEL or worse: maintenance, "
                             "minor, major, critical (a gate for CI and deploys)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per event")
    parser.add_argument("--component", action="append", metavar="NAME", type=_component_arg,
                        help="report only incidents touching this component (repeatable; for "
                             "every feed; incidents whose components are unknown still pass)")
    parser.add_argument("--min-impact", choices=IMPACTS, metavar="LEVEL",
                        help="report only incidents of this impact or worse (none, minor, major, "
                             "critical; unknown impact still passes)")
    parser.add_argument("--webhook", action="append", type=_webhook_arg, metavar="URL",
                        help="POST each event here (repeatable; Slack, Discord and Teams "
                             "Workflow URLs get their own format; other services through "
                             "[[notify]] routes in the config file)")
    for option in OPTIONS:
        parser.add_argument(*option.flags, dest=option.key, type=option.parse_flag,
                            metavar=option.metavar, help=option.help)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug diagnostics")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Defaults, then the config file, then flags; raise ConfigError on a bad config file."""
    if args.fail_on and not args.status:
        raise ConfigError("--fail-on is a gate for --status: add --status")
    config = load_config(args.config) if args.config else ConfigFile()
    feeds = args.feed or config.feeds or [FeedConfig(n, u) for n, u in FEEDS]
    if not args.report and (unknown := next((f for f in feeds if f.unknown), None)):
        raise ConfigError(f"argument --feed: {unknown.unknown}")
    # A mistake in the file is said with the file's name, as a reload's log must.
    where = f"{args.config}: " if args.config and not args.feed and config.feeds else ""
    names = [f.name for f in feeds]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ConfigError(f"{where}feed name {duplicate!r} is used twice")
    first_name: dict[tuple[str, str, int, str], str] = {}
    for feed in feeds if not args.report else ():
        other = first_name.setdefault(url_identity(feed.url), feed.name)
        if other != feed.name:
            raise ConfigError(f"{where}feeds {other!r} and {feed.name!r} have the same URL")
    if args.interval is not None:
        # A flag is the user's latest word: it beats the config file's feeds too.
        feeds = [dataclasses.replace(f, interval=None) for f in feeds]
    route_urls = [r.url for r in config.routes]
    webhooks: list[str] = args.webhook or config.webhooks
    for url in {*route_urls, *webhooks}:
        if route_urls.count(url) > 1:
            raise ConfigError(f"{args.config}: {redact_url(url)}: the same URL is in two "
                              "[[notify]] routes; give each destination one route")
    if args.component or args.min_impact:
        feeds = [dataclasses.replace(f, options=dataclasses.replace(f.options, filter=EventFilter(
            tuple(args.component or f.options.filter.components),
            args.min_impact or f.options.filter.min_impact))) for f in feeds]
    flags = {o.key: vars(args)[o.key] for o in OPTIONS if vars(args)[o.key] is not None}
    settings = dataclasses.replace(
        Settings(feeds=feeds, once=args.once, status=args.status, as_json=args.json,
                 webhooks=webhooks, routes=config.routes, fail_on=args.fail_on,
                 feeds_given=bool(args.feed or config.feeds)),
        **{**config.values, **flags})
    if settings.webhook_secret is None:
        settings.webhook_secret = os.environ.get(SECRET_ENV)
    return settings


def _install_signal_handlers(stop: asyncio.Event, interrupted: list[bool],
                             reload: asyncio.Event | None = None) -> Callable[[], None]:
    """SIGTERM (and Ctrl+C where the loop supports it) set `stop`; SIGHUP, what a closed
    terminal and `systemctl reload` send, sets `reload` where there is one, else `stop`
    (a clean stop, like SIGTERM). Returns the undo."""
    loop = asyncio.get_running_loop()
    hangup = getattr(signal, "SIGHUP", None)  # none on Windows

    def on_signal(signum: int) -> None:
        if signum == signal.SIGINT:
            interrupted.append(True)
        if signum == hangup and reload is not None:
            log.info("SIGHUP: reading the configuration again")
            reload.set()
        else:
            stop.set()

    installed: list[int] = []
    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM, *((hangup,) if hangup else ())):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):
            # Windows has no loop signal handlers: Ctrl+C stays a KeyboardInterrupt, and
            # SIGTERM goes through signal.signal, handed to the loop thread-safely.
            if signum == signal.SIGTERM:
                with contextlib.suppress(ValueError, OSError):
                    previous[signum] = signal.signal(
                        signum, lambda s, _f: loop.call_soon_threadsafe(on_signal, s))

    def undo() -> None:
        for signum in installed:
            loop.remove_signal_handler(signum)
        for signum, handler in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, handler)

    return undo


async def _status_async(settings: Settings, clock: Clock, proxies: Proxies) -> int:
    """--status: a stop before every page answered prints the board of those read, and
    exits 130 for Ctrl+C, else 1 (not every page was read)."""
    stop = asyncio.Event()
    interrupted: list[bool] = []
    undo = _install_signal_handlers(stop, interrupted)
    try:
        code = await run_status(settings, clock=clock, proxies=proxies, stop=stop)
    finally:
        undo()
    return EXIT_INTERRUPTED if interrupted else code


async def _main_async(settings: Settings, clock: Clock, proxies: Proxies,
                      read_settings: Callable[[], Settings] | None = None) -> int:
    stop = asyncio.Event()
    interrupted: list[bool] = []
    reload = Reload(asyncio.Event(), read_settings) if read_settings is not None else None
    undo = _install_signal_handlers(stop, interrupted, reload.wanted if reload else None)
    try:
        code = await run_tracker(settings, stop, clock=clock, proxies=proxies, reload=reload)
    finally:
        undo()
        _absorb_late_interrupts()
    return EXIT_INTERRUPTED if interrupted else code


def _absorb_late_interrupts() -> None:
    """Until main() returns, a Ctrl+C is already being acted on: without this, one that
    arrives while asyncio.run closes the loop raises KeyboardInterrupt inside loop.close(),
    and the half-closed loop prints a traceback when it is collected."""
    with contextlib.suppress(ValueError):  # not the main thread (an embedding program)
        signal.signal(signal.SIGINT, lambda _signum, _frame: None)


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter(terminal=_is_terminal(sys.stderr)))
    # -v is about this program: libraries say only warnings. Apprise and the urllib3 under it
    # say what each delivery did, tokens in URLs included: not even their warnings reach
    # stderr, where our own one line per failure is the rule.
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    log.setLevel(level)
    for chatty in ("apprise", "urllib3"):
        logging.getLogger(chatty).propagate = False


def _usage_error(message: object) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _check_state(settings: Settings) -> None:
    """Refuse a --state path that is no place for state, before anything is touched."""
    if settings.status and settings.state is not None and not settings.state.parent.is_dir():
        settings.state = None  # the board only reads a state file, and there is none yet
    created = settings.state is not None and check_state_path(
        settings.state, create_folder=not settings.status)
    if created and settings.state is not None:
        log.info("created folder %s for the state file", settings.state.parent)


def _run_status(args: argparse.Namespace, settings: Settings, clock: Clock,
                proxies: Proxies) -> int:
    ignored = [flag for flag, given in (
        ("--once", args.once), ("--history", args.history), ("--webhook", args.webhook),
        ("--serve", args.serve), ("--webhook-secret", args.webhook_secret),
        ("--interval", args.interval), ("--max-interval", args.max_interval),
        ("--failure-threshold", args.failure_threshold),
        ("--component", args.component and not args.fail_on),
        ("--min-impact", args.min_impact)) if given]
    if ignored:
        log.warning("--status prints the board and exits; not used with it: %s",
                    ", ".join(ignored))
    try:
        return asyncio.run(_status_async(settings, clock, proxies))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _run_watch(args: argparse.Namespace, settings: Settings, clock: Clock,
               proxies: Proxies) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A Windows console may not encode every character a feed sends.
        sys.stdout.reconfigure(errors="replace")
    # A reload reads the config file again; flags given at the start still override it.
    reread = (functools.partial(settings_from_args, args)
              if args.config is not None and not settings.once else None)
    try:
        return asyncio.run(_main_async(settings, clock, proxies, reread))
    except (StateFileError, StartupError) as exc:
        return _usage_error(exc)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _run_lookup(args: argparse.Namespace, clock: Clock) -> int:
    """--discover or --components: one page looked up, with the proxy and contact given; a
    name the catalogue lacks that is no address either is a mistake (exit 2), as for --feed."""
    flag, target = (("--discover", args.discover) if args.discover is not None
                    else ("--components", args.components))
    try:
        proxies = Proxies(args.proxy)
    except ValueError as exc:
        return _usage_error(exc)
    try:
        if find_page(target) is None:
            check_url(target)
    except ValueError as exc:
        return _usage_error(f"{flag}: {exc if '://' in target else unknown_page(target)}")
    run = run_discover if args.discover is not None else run_components
    try:
        return asyncio.run(run(target, clock=clock,
                               proxies=proxies, contact=args.contact, as_json=args.json,
                               out=sys.stdout))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def list_pages(words: Sequence[str], *, as_json: bool, out: TextIO) -> int:
    """--list-pages: the matching pages, aligned, or one JSON object a line; 1 if none."""
    pages = match_pages(words)
    if as_json:
        for page in pages:
            out.write(json.dumps({"key": page.key, "name": page.name,
                                  "platform": str(page.platform), "page": page.page,
                                  "url": page.url, "tags": list(page.tags)},
                                 ensure_ascii=False) + "\n")
    else:
        rows = [(p.key, p.name, p.platform.label, p.page) for p in pages]
        widths = [max((len(r[i]) for r in rows), default=0) for i in range(3)]
        for row in rows:
            out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
                      + f"  {row[3]}\n")
    if not pages:
        log.warning("no page of the catalogue matches %s", " ".join(words))
    out.flush()
    return EXIT_OK if pages else EXIT_FEED_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code. A reader that stopped reading (`| head`) ends it
    quietly, as it ends cat: exit 141, the shell's code for SIGPIPE, and no traceback."""
    try:
        return _main(argv)
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError):
            # Python flushes stdout at exit: into nothing, so that it cannot fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args)
    clock = Clock()  # the one clock of the run: everything below is handed it
    if args.list_pages is not None:
        return list_pages(args.list_pages, as_json=args.json, out=sys.stdout)
    if args.discover is not None or args.components is not None:
        return _run_lookup(args, clock)
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        parser.error(str(exc))
    try:
        proxies = Proxies(settings.proxy)
        _check_state(settings)
    except (ValueError, StateFileError) as exc:
        return _usage_error(exc)
    if settings.proxy:
        # Apprise's deliveries go through requests, which reads only these.
        os.environ.update(HTTP_PROXY=settings.proxy, HTTPS_PROXY=settings.proxy)
    if args.report:
        try:
            return run_report(settings, since_seconds(args.since), clock=clock, out=sys.stdout)
        except (ValueError, HistoryError) as exc:
            return _usage_error(exc)
    if settings.status:
        return _run_status(args, settings, clock, proxies)
    return _run_watch(args, settings, clock, proxies)


if __name__ == "__main__":
    sys.exit(main())
