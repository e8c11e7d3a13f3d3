"""Tests for status_tracker: the pure core first, then HTTP, the monitor, and the real CLI."""

from __future__ import annotations

import asyncio
import base64
import codecs
import contextlib
import dataclasses
import gc
import gzip
import hashlib
import hmac
import importlib.util
import io
import itertools
import json
import logging
import os
import random
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import ssl
import stat
import subprocess
import sys
import threading
import time
import types
import xml.sax
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import aiohttp
import feedparser
import multidict
import pytest
import yarl
from aiohttp import web
from aioresponses import aioresponses

import status_tracker as st

HERE = Path(__file__).parent
# The CLI processes the tests start (python -m status_tracker) load its compiled form from
# __pycache__ where the environment allows; an environment that forbids writing it would
# have each of them compile the whole file again (a tenth of a second, dozens of times).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
NOW = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)


# --- Feed builders: small documents in the shapes real status pages publish ---


def atom(*entries: str, updated: str = "2026-11-03T14:54:30.659Z", generator: str = "",
         feed_id: str = "https://status.example.test/") -> bytes:
    gen = f"<generator>{generator}</generator>" if generator else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"<id>{feed_id}</id><title>Example status</title>"
        f"<updated>{updated}</updated>{gen}\n" + "\n".join(entries) + "\n</feed>\n"
    ).encode()


def rss(*items: str, pub_date: str = "Tue, 03 Nov 2026 14:54:30 +0000") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        "<title>Example Status - Incident History</title><link>https://status.example.test</link>"
        f"<description>Statuspage</description><pubDate>{pub_date}</pubDate>\n"
        + "\n".join(items) + "\n</channel></rss>\n"
    ).encode()


def incidentio_entry(ulid: str, title: str, status: str, message: str,
                     components: tuple[str, ...] = ("Conversations (Operational)",),
                     updated: str = "2026-11-03T14:32:00.123Z") -> str:
    items = "".join(f"<li>{c}</li>" for c in components)
    html = (f"<b>Status: {status}</b><br/><br/>{message}<br/><br/><b>Affected components</b>"
            f"\n  <ul>\n  {items}\n  </ul>")
    return (f'<entry><title type="html"><![CDATA[{title}]]></title>'
            f"<id>https://status.openai.com//incidents/{ulid}</id>"
            f'<link href="https://status.openai.com//incidents/{ulid}"/>'
            f"<updated>{updated}</updated>"
            f'<summary type="html"><![CDATA[{html}]]></summary>'
            f'<content type="html"><![CDATA[{html}]]></content></entry>')


def statuspage_html(steps: list[tuple[str, str, str]]) -> str:
    """Steps newest first, as Statuspage writes them: (when, status, text)."""
    blocks = []
    for when, status, text in steps:
        month, day, clock, zone = when.replace(",", "").split(" ")
        blocks.append(f"<p><small>{month} <var data-var='date'>{day}</var>, <var data-var='time'>"
                      f"{clock}</var> {zone}</small><br><strong>{status}</strong> - {text}</p>")
    return "".join(blocks)


def escape_xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def statuspage_entry(number: int, title: str, steps: list[tuple[str, str, str]], *,
                     published: str = "2026-11-03T14:00:00Z",
                     updated: str = "2026-11-03T14:32:00Z", prefix: str = "") -> str:
    content = escape_xml(prefix + statuspage_html(steps))
    return (f"<entry><id>tag:status.example.test,2005:Incident/{number}</id>"
            f"<published>{published}</published><updated>{updated}</updated>"
            f'<link rel="alternate" type="text/html" '
            f'href="https://status.example.test/incidents/code{number}"/>'
            f'<title>{escape_xml(title)}</title><content type="html">{content}</content></entry>')


def statuspage_item(code: str, title: str, steps: list[tuple[str, str, str]],
                    pub_date: str = "Tue, 03 Nov 2026 14:00:00 +0000") -> str:
    return (f"<item><title>{escape_xml(title)}</title><description>\n"
            f"{escape_xml(statuspage_html(steps))}      </description>"
            f"<pubDate>{pub_date}</pubDate>"
            f"<link>https://status.example.test/incidents/{code}</link>"
            f"<guid>https://status.example.test/incidents/{code}</guid></item>")


INVESTIGATING = ("Nov 3, 14:00 UTC", "Investigating", "We are investigating errors.")
IDENTIFIED = ("Nov 3, 14:10 UTC", "Identified", "The cause is a bad deploy.")
MONITORING = ("Nov 3, 14:20 UTC", "Monitoring", "A fix is out; we are watching.")
RESOLVED = ("Nov 3, 14:32 UTC", "Resolved", "This incident has been resolved.")

OPENAI_ACTIVE = incidentio_entry("01KACTIVE", "Elevated error rates in ChatGPT", "Investigating",
                                 "We are investigating elevated error rates.",
                                 ("Conversations (Degraded performance)",))
OPENAI_RESOLVED = incidentio_entry("01KOLD", "Sora slow", "Resolved", "All good now.",
                                   ("Video generation (Operational)",),
                                   updated="2026-11-01T10:00:00.000Z")


def incident(**changes: Any) -> st.Incident:
    base = st.Incident(id="i1", title="Title", link="https://x.test/i1", status="Investigating",
                       components=(), message="Looking.", published=None,
                       updated=datetime(2026, 11, 3, 14, 0, tzinfo=UTC))
    return st.Incident(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, **changes})


# --- Fixtures ---


class FixedWall(st.Clock):
    """Wall time fixed where the test puts it; monotonic time real, so that a run's deadlines
    still pass."""

    def __init__(self, wall: datetime = NOW) -> None:
        self.wall = wall

    def now(self) -> datetime:
        return self.wall


class FakeClock(FixedWall):
    """Wall and monotonic time both moved only by the test."""

    def __init__(self, wall: datetime = NOW, mono: float = 0.0) -> None:
        super().__init__(wall)
        self.mono = mono

    def monotonic(self) -> float:
        return self.mono


@dataclass
class Spy:
    """A callback that remembers every event."""

    events: list[st.IncidentEvent] = field(default_factory=list)

    def __call__(self, event: st.IncidentEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[tuple[str, str]]:
        return [(e.kind, e.incident.title if e.incident else e.error or "") for e in self.events]


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None


class FeedServer:
    """A real aiohttp.web server on 127.0.0.1 whose routes the test changes between polls."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.served_304 = asyncio.Event()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, dict(request.headers)))
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="no such feed")
        if route.handler is not None:
            return await route.handler(request)
        etag = route.headers.get("ETag")
        if etag and request.headers.get("If-None-Match") == etag:
            self.served_304.set()
            return web.Response(status=304, headers=route.headers)
        return web.Response(status=route.status, body=route.body, headers=route.headers)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        # Handlers are cancelled when the client goes away, so a slow-drip route cannot hold
        # up the server's shutdown at the end of a test.
        self.runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                                    shutdown_timeout=1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """main() configures the root logger and ours; put them back so later tests log normally."""
    root = logging.getLogger()
    handlers, level, ours = root.handlers[:], root.level, st.log.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    st.log.setLevel(ours)


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request goes to this test's own servers: a proxy that the machine running the
    suite has in its environment must not take them (nor reach the CLI's processes)."""
    for name in st.PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    srv = FeedServer()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def monitor(session: aiohttp.ClientSession, url: str, spy: Spy, *, interval: float = 60,
            max_interval: float = st.DEFAULT_MAX_INTERVAL,
            failure_threshold: int = st.DEFAULT_FAILURE_THRESHOLD,
            clock: st.Clock | None = None, rng: random.Random | None = None,
            limiter: st.HostLimiter | None = None, proxies: st.Proxies | None = None,
            max_body: int = st.MAX_BODY, timeout: aiohttp.ClientTimeout = st.TIMEOUT,
            **options: Any) -> st.StatusPageMonitor:
    """A monitor of `url` named "Example", its clock at NOW, its randomness seeded."""
    shared = st.Shared(session, clock=clock or FakeClock(), rng=rng or random.Random(7),
                       limiter=limiter or st.HostLimiter(),
                       proxies=proxies or st.Proxies(environ={}), max_body=max_body,
                       timeout=timeout)
    policy = st.RetryPolicy(interval, max(max_interval, interval), failure_threshold)
    return st.StatusPageMonitor("Example", url, shared, spy, policy=policy, **options)


def webhook_sender(url: str, session: aiohttp.ClientSession, outbox: st.Outbox | None = None,
                   *, clock: st.Clock | None = None, rng: random.Random | None = None,
                   proxies: st.Proxies | None = None, **options: Any) -> st.WebhookSender:
    """A sender to `url`, its clock at NOW unless given."""
    shared = st.Shared(session, clock=clock or FakeClock(), rng=rng or random.Random(),
                       proxies=proxies or st.Proxies(environ={}))
    return st.WebhookSender(url, shared, outbox, **options)


# --- Text ---


def test_html_to_text_unescapes_entities_and_collapses_whitespace() -> None:
    assert st.html_to_text("<p>AT&amp;T &lt;ok&gt;\n\n  done&#8230;</p><ul><li>a</li></ul>") == \
        "AT&T <ok> done… a"


def test_html_to_text_drops_scripts_styles_and_comments() -> None:
    assert st.html_to_text("<script>alert(1)</script>ok<style>p{}</style><!-- x --> <img "
                           "src=x onerror=alert(2)>fine") == "ok fine"


def test_clean_text_removes_escape_sequences_controls_and_bidi_overrides() -> None:
    hostile = ("\x1b[2J\x1b[31mred\x1b[0m \x1b]8;;https://evil.test\x07link\x1b]8;;\x07 "
               "\x9b31mc1\x07bell \u202eevil\u202c \x1b]0;title\x1b\\ok")
    assert st.clean_text(hostile) == "red link c1 bell evil ok"


def test_html_to_text_removes_escapes_hidden_in_character_references() -> None:
    # HTML5 maps &#27; to nothing and &#x9b; to "›": no escape byte survives.
    assert st.html_to_text("a&#27;[31mb&#x9b;2Jc &#x202E;d&#x1b;]0;t&#7;") == "a[31mb›2Jc d]0;t"


def _clean_text_in_full(text: str) -> str:
    """clean_text as defined, every pass run on every text."""
    text = st._ESCAPE_SEQUENCES.sub("", text)
    return " ".join(st._UNPRINTABLE.sub(" ", text).split())


def test_clean_text_skipping_passes_on_printable_text_changes_no_result() -> None:
    pieces = ["plain", " ", "\n", "\t", "\x1b[31m", "\x1b]8;;http://e.test\x07", "\x9b2J", "\x90x",
              "\x9c", "\x00", "\x7f", "\x85", "\xa0", "\u202e", "\u2066", "\u061c", "\ud800",
              "é", "…", "\u3000", "\x1b", "[", "m"]
    rng = random.Random(11)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 9))) for _ in range(20_000)]
    for text in texts + [chr(c) for c in range(0x3000)]:
        assert st.clean_text(text) == _clean_text_in_full(text), repr(text)


def test_feed_fragments_skip_the_html_parser_and_read_the_same() -> None:
    fragments = [
        "Nov <var data-var='date'>20</var>, <var data-var='time'>18:35</var> PST",
        "<strong>Resolved</strong>",
        "<p>We&#39;re seeing <b>errors</b> &amp; delays.<br/>Fixed.</p>",
        '<b>Status: Resolved</b><br/><br/>Done.<ul><li>API (Operational)</li></ul>',
        '<span class="x" data-y="1" hidden>text</span>', "<P>Upper<BR>case</P>",
    ]
    for markup in fragments:
        assert st._plain_markup_text(markup) is not None, markup
        assert st._plain_markup_text(markup) == st._extract_text(markup, links=False)
    # Anything beyond text and formatting tags is the parser's: scripts, comments, a bare "<",
    # unquoted attributes, and tags whose text HTMLParser treats differently.
    for markup in ["<script>x</script>y", "a<!-- c -->b", "a < b", "<img src=x>",
                   "<title>t</title>", "<p", '<a href="x>y">z</a>', "<![CDATA[x]]>"]:
        assert st._plain_markup_text(markup) is None, markup
    tokens = ["a", " ", "\n", "&amp;", "&lt;b&gt;", "&", "&#39;", "&#65", "AT&T", "&nbsp;", ">",
              "<b>", "</b>", "<br>", "<br/>", "<BR />", "<p class='x'>", "</p>", "</ p>", "<div\n>",
              '<a href="https://e.test/">', "</a>", "<li>", "<var data-var='time'>", "</var>",
              "<i/>", '<span a="1" b=\'2\' c>', "\x1b[31m", "\u202e", "ü", "<", "<script>"]
    rng = random.Random(5)
    compared = 0
    for _ in range(20_000):
        markup = "".join(rng.choice(tokens) for _ in range(rng.randint(1, 8)))
        fast = st._plain_markup_text(markup)
        if fast is not None:
            compared += 1
            assert fast == st._extract_text(markup, links=False), repr(markup)
    assert compared > 5_000  # the comparison covered the fast path, not only the parser's


def test_feedparser_reads_through_buffered_expat_and_builds_the_same_incidents(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    words = ["a", "&", "<b>x</b>", "AT&T", "é", "…", "\u4e2d", "'", '"', "\n", "  ", "&amp;"]
    # Longer than expat's 8 KB text buffer, so the text is handed over in more than one piece.
    long_text = "".join(rng.choice(words) + " " for _ in range(6000))
    xhtml = ('<entry><id>x1</id><title>XHTML</title><updated>2026-11-03T14:00:00Z</updated>'
             '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">One &amp; '
             "<b>two</b> &lt;three&gt;</div></content></entry>")
    documents = [
        atom(statuspage_entry(1, "Errors & delays", [RESOLVED, MONITORING, IDENTIFIED,
                                                     INVESTIGATING]),
             statuspage_entry(2, "Long", [("Nov 3, 14:00 UTC", "Investigating", long_text)]),
             xhtml),
        rss(statuspage_item("c3", "RSS <&>", [IDENTIFIED, INVESTIGATING])),
        atom(OPENAI_ACTIVE, OPENAI_RESOLVED, generator="incident.io"),
    ]
    made: list[st._BufferedExpat] = []  # kept alive, so that their ids stay distinct
    real_reset = st._BufferedExpat.reset

    def reset(self: st._BufferedExpat) -> None:
        made.append(self)
        real_reset(self)
        reader: Any = self  # the stubs do not declare the pyexpat parser
        assert reader._parser.buffer_text  # the point of the reader

    monkeypatch.setattr(st._BufferedExpat, "reset", reset)
    buffered = [st.parse_feed(doc) for doc in documents]
    assert len({id(reader) for reader in made}) == len(documents)  # one buffered reader each
    assert len(buffered[0][1].message) > 3000  # the long text came through whole to the clip

    readers = len(made)
    feedparser.parse(io.BytesIO(documents[0]))  # anyone else's feedparser call: the usual one
    assert len(made) == readers

    def refuse() -> None:
        raise xml.sax.SAXReaderNotAvailable("refused", None)

    monkeypatch.setattr(sys.modules[st.SAX_DRIVER], "create_parser", refuse)
    assert [st.parse_feed(doc) for doc in documents] == buffered
    assert len(made) == readers
    assert [len(incidents) for incidents in buffered] == [3, 1, 2]

# --- Parsing: one test per platform shape ---


def test_parse_incidentio_atom_takes_status_message_and_components() -> None:
    [inc] = st.parse_feed(atom(OPENAI_ACTIVE, generator="incident.io"))
    assert inc == st.Incident(
        id="https://status.openai.com//incidents/01KACTIVE",
        title="Elevated error rates in ChatGPT",
        link="https://status.openai.com//incidents/01KACTIVE",
        status="Investigating",
        components=("Conversations (Degraded performance)",),
        message="We are investigating elevated error rates.",
        published=None,
        updated=datetime(2026, 11, 3, 14, 32, 0, tzinfo=UTC),
    )
    assert inc.active


@pytest.mark.parametrize("title", [
    '<title type="text">Evil\u202e title &#x1b;[31mnow\u2069</title>',  # Atom, plain text
    "<title>Evil\u202e title &#x1b;[31mnow\u2069</title>"])  # RSS: titles are plain text
def test_a_plain_text_title_is_sanitised_like_an_html_one(title: str) -> None:
    entry = (f"<entry>{title}<id>urn:x</id><updated>2026-11-03T14:00:00Z</updated>"
             "<content type='text'>Safe \u2066text&#x1b;]0;x&#x7; here</content></entry>")
    body = atom(entry) if "type" in title else rss(
        f"<item>{title}<guid>urn:x</guid><description>Safe \u2066text&#x1b;]0;x&#x7; here"
        "</description></item>")
    [inc] = st.parse_feed(body)
    assert (inc.title, inc.message) == ("Evil title now", "Safe text here")


def test_parse_incidentio_rss_uses_guid_and_pubdate() -> None:
    item = ("<item><title><![CDATA[High error rate for Images]]></title>"
            "<link>https://status.openai.com//incidents/01KRSS</link>"
            "<guid>https://status.openai.com//incidents/01KRSS</guid>"
            "<pubDate>Thu, 08 Jan 2026 02:45:00 GMT</pubDate>"
            "<description><![CDATA[<b>Status: Resolved</b><br/><br/>Recovered.<br/><br/>"
            "<b>Affected components</b><ul><li>Images (Operational)</li></ul>]]></description>"
            "</item>")
    [inc] = st.parse_feed(rss(item))
    assert (inc.id, inc.status, inc.components, inc.message, inc.published, inc.updated) == (
        "https://status.openai.com//incidents/01KRSS", "Resolved", ("Images (Operational)",),
        "Recovered.", datetime(2026, 1, 8, 2, 45, tzinfo=UTC), None)
    assert not inc.active


def test_parse_statuspage_atom_reads_latest_step_and_keeps_timeline_oldest_first() -> None:
    body = atom(statuspage_entry(7, "API errors", [MONITORING, IDENTIFIED, INVESTIGATING],
                                 updated="2026-11-03T06:20:30-08:00"))
    [inc] = st.parse_feed(body)
    assert (inc.id, inc.status, inc.message, inc.link) == (
        "tag:status.example.test,2005:Incident/7", "Monitoring",
        "A fix is out; we are watching.", "https://status.example.test/incidents/code7")
    assert inc.updated == datetime(2026, 11, 3, 14, 20, 30, tzinfo=UTC)
    assert [(s.status, s.message, s.at) for s in inc.steps] == [
        ("Investigating", "We are investigating errors.", datetime(2026, 11, 3, 14, 0, tzinfo=UTC)),
        ("Identified", "The cause is a bad deploy.", datetime(2026, 11, 3, 14, 10, tzinfo=UTC)),
        ("Monitoring", "A fix is out; we are watching.",
         datetime(2026, 11, 3, 14, 20, tzinfo=UTC)),
    ]


def test_parse_statuspage_scheduled_event_banner_is_not_the_status() -> None:
    banner = "<p><strong>THIS IS A SCHEDULED EVENT Dec 18, 16:00 - 17:00 UTC</strong></p>"
    step = ("Dec 9, 19:40 UTC", "Scheduled", "Maintenance <strong>Impact</strong> brief outage.")
    body = atom(statuspage_entry(9, "Network maintenance", [step], prefix=banner,
                                 published="2026-12-18T16:00:00Z",
                                 updated="2026-12-09T19:40:55Z"))
    [inc] = st.parse_feed(body)
    assert (inc.status, inc.message) == ("Scheduled", "Maintenance Impact brief outage.")
    assert inc.published is not None and inc.updated is not None
    assert inc.published > inc.updated  # maintenance: published is the scheduled start


def test_parse_statuspage_step_times_convert_zones_and_infer_the_year() -> None:
    step = ("Dec 31, 23:50 PST", "Investigating", "Late night.")
    [inc] = st.parse_feed(atom(statuspage_entry(1, "New year", [step],
                                                updated="2027-01-01T08:00:00Z")))
    assert inc.steps[0].at == datetime(2027, 1, 1, 7, 50, tzinfo=UTC)
    [inc] = st.parse_feed(atom(statuspage_entry(1, "Zone", [
        ("Dec 31, 23:50 XYZT", "Investigating", "Unknown zone.")], updated="2027-01-01T08:00:00Z")))
    assert inc.steps[0].at is None and st._reported(inc).updated == inc.updated
    old = ("Dec 30, 10:00 UTC", "Investigating", "Last year.")
    [inc] = st.parse_feed(atom(statuspage_entry(1, "x", [old], updated="2027-01-02T00:00:00Z")))
    assert inc.steps[0].at == datetime(2026, 12, 30, 10, 0, tzinfo=UTC)


def test_parse_statuspage_rss_takes_updated_from_the_newest_step() -> None:
    [inc] = st.parse_feed(rss(statuspage_item("abc", "Slow builds", [IDENTIFIED, INVESTIGATING])))
    assert (inc.id, inc.status, inc.message) == (
        "https://status.example.test/incidents/abc", "Identified", "The cause is a bad deploy.")
    assert inc.published == datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
    assert inc.updated == datetime(2026, 11, 3, 14, 10, tzinfo=UTC)


def test_parse_google_cloud_folds_per_update_entries_into_one_incident() -> None:
    def entry(update: str, prefix: str, when: str, text: str) -> str:
        summary = escape_xml(f"<p>{text}</p><hr><p>Affected products: Cloud Monitoring, "
                             "Google Cloud Pub/Sub</p><p>Affected locations: Global</p>")
        return (f"<entry><title>{prefix}: Global: Pub/Sub metrics missing</title>"
                '<link href="https://status.cloud.google.com/incidents/ABC" rel="alternate">'
                f"</link><id>tag:status.cloud.google.com,2022:feed:ABC.{update}</id>"
                f'<updated>{when}</updated><summary type="html">{summary}</summary></entry>')

    body = atom(entry("u2", "RESOLVED", "2022-04-01T20:13:25+00:00", "Fixed."),
                entry("u1", "UPDATE", "2022-04-01T18:00:00+00:00", "Looking."))
    [inc] = st.parse_feed(body)
    assert (inc.id, inc.title, inc.status, inc.components) == (
        "tag:status.cloud.google.com,2022:feed:ABC", "Global: Pub/Sub metrics missing",
        "Resolved", ("Cloud Monitoring", "Google Cloud Pub/Sub"))
    assert inc.message.startswith("Fixed.")
    assert inc.published == datetime(2022, 4, 1, 18, 0, tzinfo=UTC)
    assert [s.status for s in inc.steps] == ["Update", "Resolved"]


def aws_item(epoch: int, title: str, when: str, text: str = "Plain text body.",
             service: str = "ec2-us-east-1") -> str:
    """One AWS Health RSS item: every item has the same link; the guid names service and time."""
    return (f"<item><title><![CDATA[{title}]]></title><link>http://status.aws.amazon.com/</link>"
            f"<pubDate>{when}</pubDate>"
            f'<guid isPermaLink="false">http://status.aws.amazon.com/#{service}_{epoch}</guid>'
            f"<description><![CDATA[{text}]]></description></item>")


def test_aws_posts_of_one_incident_are_one_incident_with_a_step_each() -> None:
    body = rss(
        aws_item(5, "Service is operating normally: [RESOLVED] API Error Rates",
                 "Wed, 22 Dec 2021 16:22:00 PST", "Recovered."),
        aws_item(4, "Informational message: [RESOLVED] API Error Rates",
                 "Wed, 22 Dec 2021 05:01:46 PST", "Power is restored."),
        aws_item(3, "Informational message: [RESOLVED] API Error Rates",
                 "Wed, 22 Dec 2021 04:35:00 PST", "We are investigating."),
        aws_item(2, "Service is operating normally: [RESOLVED] Increased API Error Rates",
                 "Tue, 07 Dec 2021 15:31:00 PST", "Fixed."),
        aws_item(1, "Service degradation: [RESOLVED] Increased API Error Rates",
                 "Tue, 07 Dec 2021 08:49:31 PST", "Elevated errors."),
        aws_item(9, "Service disruption: Increased Error Rates",
                 "Tue, 28 Feb 2017 09:37:00 PST", "S3 errors.", service="s3-us-standard"))
    incs = {i.id.rsplit("#", 1)[1]: i for i in st.parse_feed(body)}
    assert sorted(incs) == ["ec2-us-east-1_1", "ec2-us-east-1_3", "s3-us-standard_9"]
    december = incs["ec2-us-east-1_3"]
    assert (december.title, december.status, december.active, december.components) == (
        "API Error Rates", "Resolved", False, ("ec2 (us-east-1)",))
    assert [(s.status, s.message, s.at) for s in december.steps] == [
        ("Informational message", "We are investigating.",
         datetime(2021, 12, 22, 12, 35, tzinfo=UTC)),
        ("Informational message", "Power is restored.",
         datetime(2021, 12, 22, 13, 1, 46, tzinfo=UTC)),
        ("Resolved", "Recovered.", datetime(2021, 12, 23, 0, 22, tzinfo=UTC))]
    assert december.published == datetime(2021, 12, 22, 12, 35, tzinfo=UTC)
    assert december.updated == datetime(2021, 12, 23, 0, 22, tzinfo=UTC)
    assert [s.status for s in incs["ec2-us-east-1_1"].steps] == ["Service degradation",
                                                                 "Resolved"]
    s3 = incs["s3-us-standard_9"]
    assert (s3.status, s3.active, s3.components) == (
        "Service disruption", True, ("s3-us-standard",))


async def test_aws_reports_new_then_updates_then_resolved_as_posts_arrive(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    earlier = aws_item(9, "Service is operating normally: [RESOLVED] Increased Latency",
                       "Tue, 07 Dec 2021 15:31:00 PST", "Fixed.")
    first = aws_item(1, "Service disruption: API Error Rates", "Wed, 22 Dec 2021 04:35:00 PST",
                     "We are investigating.")
    second = aws_item(2, "Informational message: API Error Rates",
                      "Wed, 22 Dec 2021 05:01:46 PST", "Power is restored.")
    last = aws_item(3, "Service is operating normally: [RESOLVED] API Error Rates",
                    "Wed, 22 Dec 2021 16:22:00 PST", "Recovered.")
    resolved = [aws_item(2, "Informational message: [RESOLVED] API Error Rates",
                         "Wed, 22 Dec 2021 05:01:46 PST", "Power is restored."),
                aws_item(1, "Service disruption: [RESOLVED] API Error Rates",
                         "Wed, 22 Dec 2021 04:35:00 PST", "We are investigating.")]
    route = Route()
    server.routes["/rss"] = route
    spy = Spy()
    mon = monitor(session, server.url("/rss"), spy)
    for copy in ([earlier], [first, earlier], [second, first, earlier],
                 [last, *resolved, earlier]):
        route.body = rss(*copy)
        assert await mon.poll()
    assert [(e.kind, e.incident.title, e.incident.status, e.incident.updated,
             e.incident.components) for e in spy.events if e.incident] == [
        ("new", "API Error Rates", "Service disruption",
         datetime(2021, 12, 22, 12, 35, tzinfo=UTC), ("ec2 (us-east-1)",)),
        ("updated", "API Error Rates", "Informational message",
         datetime(2021, 12, 22, 13, 1, 46, tzinfo=UTC), ("ec2 (us-east-1)",)),
        ("updated", "API Error Rates", "Resolved", datetime(2021, 12, 23, 0, 22, tzinfo=UTC),
         ("ec2 (us-east-1)",))]
    assert mon.incidents == [] and mon.stats.events == 3


def test_aws_markup_escaped_twice_becomes_plain_text_with_link_addresses_kept() -> None:
    body = ("Errors in one zone.&lt;br&gt;&lt;br&gt;Details: &lt;a href=\"https://aws.example.test/"
            "message/1\"&gt;the summary&lt;/a&gt; &lt;b&gt;soon&lt;/b&gt;.")
    item = aws_item(1, "Service disruption: API Error Rates", "Wed, 22 Dec 2021 16:22:00 PST",
                    body)
    [inc] = st.parse_feed(rss(item))
    assert inc.message == ("Errors in one zone. Details: the summary "
                           "(https://aws.example.test/message/1) soon.")
    assert st.html_to_text("a &lt;b&gt; is bold, 3 &lt; 4") == "a is bold, 3 < 4"


def test_parse_generic_feed_falls_back_to_link_then_title_and_published_for_ids() -> None:
    body = rss("<item><title>Thing &amp; stuff</title><link>https://x.test/1</link>"
               "<description>&lt;p&gt;Broken&lt;/p&gt;</description></item>",
               "<item><title>No link</title><pubDate>Tue, 03 Nov 2026 10:00:00 +0000</pubDate>"
               "</item>")
    first, second = st.parse_feed(body)
    assert (first.id, first.title, first.message, first.status) == (
        "https://x.test/1", "Thing & stuff", "Broken", "")
    assert second.id == st._digest("No link", "2026-11-03T10:00:00Z")
    assert not first.active


def test_parse_accepts_an_empty_feed_and_rejects_html_and_empty_bodies() -> None:
    assert st.parse_feed(rss()) == []
    with pytest.raises(st.FeedError, match="HTML page"):
        st.parse_feed(b"<!DOCTYPE html><html><body>Just a moment...</body></html>")
    with pytest.raises(st.FeedError, match="empty response"):
        st.parse_feed(b"  \n")
    with pytest.raises(st.FeedError, match="not a feed"):
        st.parse_feed(b"\x00\x01garbage{")


WIDE = '<feed xmlns="http://www.w3.org/2005/Atom"><id>x</id><title>Wide</title>{}</feed>'


def wide_entry(n: int) -> str:
    return (f"<entry><id>urn:wide:{n}</id><title>Zürich {n}</title>"
            "<updated>2026-11-03T14:00:00Z</updated>"
            "<content type='html'>&lt;b&gt;Status: Investigating&lt;/b&gt; Ça marche.</content>"
            "</entry>")


@pytest.mark.parametrize(("body", "content_type"), [
    (codecs.BOM_UTF16_LE + WIDE.format(wide_entry(1)).encode("utf-16-le"), ""),  # no <?xml
    (('<?xml version="1.0" encoding="UTF-16"?>' + WIDE.format(wide_entry(1))).encode(
        "utf-16-be"), ""),  # no mark: told by its first bytes
    (('<?xml version="1.0" encoding="UTF-32"?>' + WIDE.format(wide_entry(1))).encode("utf-32"),
     ""),
    (WIDE.format(wide_entry(1)).encode("latin-1"), "application/atom+xml; charset=ISO-8859-1"),
    (('<?xml version="1.0" encoding="windows-1252"?>' + WIDE.format(wide_entry(1))).encode(
        "cp1252"), "text/xml; charset=utf-8"),  # the declaration is the generator's word
])
def test_feeds_in_other_encodings_read_like_any_other(body: bytes, content_type: str) -> None:
    [inc] = st.parse_feed(st.as_utf8(body, content_type))
    assert (inc.title, inc.status, inc.message) == ("Zürich 1", "Investigating", "Ça marche.")


def test_every_limit_applies_to_what_a_utf16_body_really_says() -> None:
    entries = "".join(wide_entry(n) for n in range(st.MAX_ENTRIES + 3000))
    body = codecs.BOM_UTF16_BE + WIDE.format(entries).encode("utf-16-be")
    incs = st.parse_feed(body)
    assert len(incs) == st.MAX_ENTRIES and incs[-1].title == f"Zürich {st.MAX_ENTRIES - 1}"
    cut = codecs.BOM_UTF16_LE + WIDE.format(wide_entry(1) + wide_entry(2)).encode(
        "utf-16-le")[:-400]
    with pytest.raises(st.FeedError, match="cut off before its end"):
        st.parse_feed(cut)
    html = codecs.BOM_UTF16_LE + "<!DOCTYPE html><html><body>Hi</body></html>".encode(
        "utf-16-le")
    with pytest.raises(st.FeedError, match="got an HTML page"):
        st.parse_feed(html)
    bomb = ('<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            + WIDE.format(wide_entry(1).replace("Zürich 1", "&b;"))).encode("utf-16")
    [inc] = st.parse_feed(bomb)
    assert "aaaa" not in inc.title  # the DOCTYPE went before any parser saw it
    assert st.as_utf8(b'<?xml version="1.0"?><feed/>') == b'<?xml version="1.0"?><feed/>'


async def test_a_utf16_feed_over_http_is_fingerprinted_and_checked_like_a_utf8_one(
        server: FeedServer, session: aiohttp.ClientSession, parse_calls: list[int]) -> None:
    def served(stamp: str) -> bytes:
        return (f'<?xml version="1.0" encoding="utf-16"?><feed xmlns="http://www.w3.org/2005/'
                f'Atom"><id>x</id><title>W</title><updated>{stamp}</updated>'
                f"{wide_entry(1)}</feed>").encode("utf-16")

    route = Route(body=served("2026-11-03T14:00:00Z"),
                  headers={"Content-Type": "application/atom+xml; charset=utf-16"})
    server.routes["/wide"] = route
    spy = Spy()
    mon = monitor(session, server.url("/wide"), spy)
    assert await mon.poll()
    route.body = served("2026-11-03T14:05:00Z")  # re-stamped, as OpenAI does on every request
    assert await mon.poll()
    assert spy.kinds() == [("active", "Zürich 1")] and len(parse_calls) == 1
    route.body = "<html><body>Sign in</body></html>".encode("utf-16")
    route.headers = {"Content-Type": "text/html; charset=utf-16"}
    result = await mon.poll()
    assert not result and mon.failing_reason == (
        "not a feed: got an HTML page, and no feed was found on it (tried /history.atom, "
        "/feed.atom, /index.json, /summary.json)")


def test_parse_does_not_expand_entities_or_read_local_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the XML parser is given, so the test fails when the declarations get through even
    # where the parser's own guard would stop the expansion (after about a second of CPU).
    given: list[bytes] = []
    real_parse = feedparser.parse

    def spy(document: io.BytesIO, **options: Any) -> Any:
        given.append(document.getvalue())
        return real_parse(io.BytesIO(given[-1]), **options)

    monkeypatch.setattr(feedparser, "parse", spy)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    lols = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    body = (f'<?xml version="1.0"?><!-- hi --><!DOCTYPE feed [<!ENTITY lol0 "lol">{lols}'
            f'<!ENTITY xxe SYSTEM "file://{secret}">]>'
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
            "<entry><id>e1</id><title>&lol9;</title><summary>&xxe;</summary>"
            "<updated>2026-11-03T00:00:00Z</updated></entry></feed>").encode()
    incs = st.parse_feed(body)
    [document] = given
    assert b"<!ENTITY" not in document and b"<!DOCTYPE" not in document
    assert len(incs) <= 1
    for inc in incs:
        assert len(inc.title) < 100 and "lol" * 3 not in inc.title
        assert "TOP-SECRET" not in inc.message


# --- Fingerprint ---


def test_fingerprint_ignores_the_restamped_feed_date_but_not_entry_changes() -> None:
    a = atom(OPENAI_ACTIVE, updated="2026-11-03T14:54:30.659Z")
    b = atom(OPENAI_ACTIVE, updated="2026-11-03T14:55:31.001Z")
    changed = atom(OPENAI_ACTIVE.replace("Investigating", "Identified"),
                   updated="2026-11-03T14:55:31.001Z")
    assert st.body_fingerprint(a) == st.body_fingerprint(b) != st.body_fingerprint(changed)
    item = statuspage_item("a", "t", [INVESTIGATING])
    assert st.body_fingerprint(rss(item, pub_date="Tue, 03 Nov 2026 14:00:00 +0000")) == \
        st.body_fingerprint(rss(item, pub_date="Tue, 03 Nov 2026 15:00:00 +0000"))



def test_fingerprints_stay_as_state_files_hold_them() -> None:
    # Kept in --state files: a new way of computing the same hash must give the same value,
    # or every feed without validators would be parsed again after an upgrade.
    assert st.body_fingerprint(b'<?xml version="1.0"?><feed><updated>2026-11-03T14:00:00Z'
                               b"</updated><entry><id>1</id></entry></feed>"
                               ) == "49aef619ebbcb160750b7174c90f5fdc"
    assert st.body_fingerprint(b"<rss><channel><lastBuildDate>Tue, 03 Nov 2026</lastBuildDate>"
                               b"<item><guid>1</guid></item></channel></rss>"
                               ) == "410507f6c486b5aacbea5a0459171db5"
    assert st.body_fingerprint(b"<feed><updated>2026-11-03T14:00:00Z</updated></feed>"
                               ) == "2252aed75356ccfd586c4d8b68c19f23"
    assert st.body_fingerprint(b"") == "e3b0c44298fc1c149afbf4c8996fb924"


# --- Deciding what changed ---


def decide(known: dict[str, st.Seen], *incs: st.Incident, first: bool = False, history: int = 0
           ) -> tuple[list[tuple[str, str, str]], dict[str, st.Seen]]:
    changes, remembered, _ = st.decide(known, incs, first_sight=first, now=NOW, history=history)
    return [(kind, inc.id, inc.status) for kind, inc in changes], remembered


def test_first_sight_reports_only_active_incidents_and_history_on_request() -> None:
    old = incident(id="old", status="Resolved", updated=NOW - timedelta(days=3))
    done = incident(id="done", status="Completed", updated=NOW - timedelta(days=2))
    live = incident(id="live", status="Monitoring", updated=NOW - timedelta(days=1))
    changes, known = decide({}, old, done, live, first=True)
    assert changes == [("active", "live", "Monitoring")]
    assert set(known) == {"old", "done", "live"}
    changes, _ = decide({}, old, done, live, first=True, history=2)
    assert changes == [("history", "done", "Completed"), ("active", "live", "Monitoring")]


def test_new_incident_and_forward_update_are_each_reported_once() -> None:
    a = incident(id="a")
    changes, known = decide({}, a)
    assert changes == [("new", "a", "Investigating")]
    assert decide(known, a)[0] == []
    later = incident(id="a", updated=a.updated + timedelta(minutes=5))  # type: ignore[operator]
    changes, known = decide(known, later)
    assert changes == [("updated", "a", "Investigating")]
    assert decide(known, later)[0] == []


def test_visible_change_with_unchanged_date_is_an_update() -> None:
    _, known = decide({}, incident(id="a", title="Issue with Codex"))
    for changed in (incident(id="a", title="Codex tasks failing"),
                    incident(id="a", status="Identified"),
                    incident(id="a", message="New words."),
                    incident(id="a", components=("Codex (Degraded performance)",))):
        changes, _ = decide(known, changed)
        assert changes == [("updated", "a", changed.status)]


def test_reordering_markup_changes_and_an_older_date_report_nothing() -> None:
    a, b = incident(id="a"), incident(id="b", title="B")
    _, known = decide({}, a, b)
    assert decide(known, b, a)[0] == []
    earlier = incident(id="a", updated=a.updated - timedelta(hours=1))  # type: ignore[operator]
    assert decide(known, earlier, b)[0] == []
    p1 = st.parse_feed(atom(incidentio_entry("X", "T", "Investigating", "Some  <i>text</i>")))
    p2 = st.parse_feed(atom(incidentio_entry("X", "T", "Investigating", "Some text\n")))
    _, known = decide({}, *p1)
    assert decide(known, *p2)[0] == []


def test_an_incident_that_leaves_the_window_and_returns_unchanged_is_not_news() -> None:
    a, b = incident(id="a"), incident(id="b")
    _, known = decide({}, a, b)
    _, known = decide(known, b)
    assert "a" in known
    assert decide(known, a, b)[0] == []


def test_statuspage_updates_posted_between_polls_are_one_event_carrying_each_step() -> None:
    [first] = st.parse_feed(atom(statuspage_entry(1, "API", [INVESTIGATING],
                                                  updated="2026-11-03T14:00:00Z")))
    _, known, _ = st.decide({}, [first], first_sight=False, now=NOW)
    [later] = st.parse_feed(atom(statuspage_entry(1, "API", [MONITORING, IDENTIFIED,
                                                             INVESTIGATING],
                                                  updated="2026-11-03T14:20:00Z")))
    changes, known, _ = st.decide(known, [later], first_sight=False, now=NOW)
    assert [(k, i.status, i.message, i.updated) for k, i in changes] == [
        ("updated", "Monitoring", "A fix is out; we are watching.",
         datetime(2026, 11, 3, 14, 20, tzinfo=UTC))]
    assert [(s.status, s.message, s.at) for s in changes[0][1].steps] == [
        ("Identified", "The cause is a bad deploy.", datetime(2026, 11, 3, 14, 10, tzinfo=UTC)),
        ("Monitoring", "A fix is out; we are watching.",
         datetime(2026, 11, 3, 14, 20, tzinfo=UTC))]
    assert st.decide(known, [later], first_sight=False, now=NOW)[0] == []


def test_statuspage_rss_update_is_found_from_content_alone() -> None:
    [before] = st.parse_feed(rss(statuspage_item("a", "T", [INVESTIGATING])))
    _, known, _ = st.decide({}, [before], first_sight=True, now=NOW)
    [after] = st.parse_feed(rss(statuspage_item("a", "T", [RESOLVED, INVESTIGATING])))
    assert after.published == before.published  # RSS never moves pubDate
    changes, _, _ = st.decide(known, [after], first_sight=False, now=NOW)
    assert [(k, i.status) for k, i in changes] == [("updated", "Resolved")]


def test_an_edited_older_step_is_not_reported_as_a_new_step() -> None:
    [before] = st.parse_feed(atom(statuspage_entry(1, "T", [IDENTIFIED, INVESTIGATING])))
    _, known, _ = st.decide({}, [before], first_sight=False, now=NOW)
    typo_fixed = (INVESTIGATING[0], "Investigating", "We are investigating the errors.")
    [after] = st.parse_feed(atom(statuspage_entry(1, "T", [IDENTIFIED, typo_fixed])))
    assert st.decide(known, [after], first_sight=False, now=NOW)[0] == []


def test_a_statuspage_entry_edited_later_without_new_steps_or_text_reports_nothing() -> None:
    [before] = st.parse_feed(atom(statuspage_entry(1, "T", [RESOLVED, INVESTIGATING])))
    _, known, _ = st.decide({}, [before], first_sight=False, now=NOW)
    [edited] = st.parse_feed(atom(statuspage_entry(1, "T", [RESOLVED, INVESTIGATING],
                                                   updated="2026-11-09T08:00:00Z")))
    assert edited.updated != before.updated
    assert st.decide(known, [edited], first_sight=False, now=NOW)[0] == []


def test_statuspage_update_steps_keep_the_last_real_status_and_show_their_own_time() -> None:
    update = ("Nov 3, 14:15 UTC", "Update", "We are still working on it.")
    [inc] = st.parse_feed(atom(statuspage_entry(1, "T", [update, IDENTIFIED, INVESTIGATING],
                                                updated="2026-11-04T09:00:00Z")))
    assert [(s.status, s.message) for s in inc.steps] == [
        ("Investigating", "We are investigating errors."),
        ("Identified", "The cause is a bad deploy."),
        ("Identified", "We are still working on it.")]
    assert (inc.status, inc.message, inc.active) == (
        "Identified", "We are still working on it.", True)
    changes, known, _ = st.decide({}, [inc], first_sight=True, now=NOW)
    assert [(k, i.status, i.updated) for k, i in changes] == [
        ("active", "Identified", datetime(2026, 11, 3, 14, 15, tzinfo=UTC))]
    [later] = st.parse_feed(atom(statuspage_entry(
        1, "T", [RESOLVED, update, IDENTIFIED, INVESTIGATING], updated="2026-11-05T09:00:00Z")))
    changes, _, _ = st.decide(known, [later], first_sight=False, now=NOW)
    assert [(k, i.status, i.updated) for k, i in changes] == [
        ("updated", "Resolved", datetime(2026, 11, 3, 14, 32, tzinfo=UTC))]


def test_statuspage_entries_carry_their_api_code_and_maintenance_is_recognised() -> None:
    scheduled = ("Nov 3, 14:00 UTC", "Scheduled", "We will upgrade the database.")
    incs = st.parse_feed(atom(statuspage_entry(1, "Outage", [INVESTIGATING]),
                              statuspage_entry(2, "DB upgrade", [scheduled],
                                               prefix="<p><strong>THIS IS A SCHEDULED EVENT "
                                                      "Nov 3, 14:00 - 15:00 UTC</strong></p>")))
    assert [(i.code, i.maintenance) for i in incs] == [("code1", False), ("code2", True)]
    [item] = st.parse_feed(rss(statuspage_item("abc123", "T", [INVESTIGATING])))
    assert item.code == "abc123"
    [other] = st.parse_feed(atom(incidentio_entry("01K", "T", "Investigating", "m")))
    assert other.code == ""


def test_a_new_incident_with_several_steps_is_one_event_carrying_its_whole_timeline() -> None:
    [inc] = st.parse_feed(atom(statuspage_entry(5, "T", [RESOLVED, IDENTIFIED, INVESTIGATING])))
    changes, _, _ = st.decide({}, [inc], first_sight=False, now=NOW)
    assert [(k, i.status, [s.status for s in i.steps]) for k, i in changes] == [
        ("new", "Resolved", ["Investigating", "Identified", "Resolved"])]


def test_prune_forgets_old_incidents_and_bounds_the_memory() -> None:
    known = {f"i{n}": st.Seen(None, "d", (), NOW - timedelta(days=n)) for n in range(40)}
    assert set(st.prune(known, NOW)) == {f"i{n}" for n in range(31)}
    many = {f"i{n}": st.Seen(None, "d", (), NOW - timedelta(seconds=n))
            for n in range(st.MAX_KNOWN + 5)}
    assert set(st.prune(many, NOW)) == {f"i{n}" for n in range(st.MAX_KNOWN + 1)}


def test_a_feed_larger_than_the_memory_bound_never_repeats_itself() -> None:
    incs = [incident(id=f"i{n}", status="Resolved") for n in range(st.MAX_KNOWN + 200)]
    _, known, _ = st.decide({}, incs, first_sight=True, now=NOW)
    changes, known, _ = st.decide(known, incs, first_sight=False, now=NOW + timedelta(minutes=1))
    assert changes == [] and len(known) == st.MAX_KNOWN + 200


def reads(*copies: bytes, known: dict[str, st.Seen] | None = None
          ) -> tuple[list[list[tuple[str, str, list[str]]]], dict[str, st.Seen]]:
    """The events of reading each copy in turn, as (kind, status, statuses of the steps)."""
    known = dict(known or {})
    out: list[list[tuple[str, str, list[str]]]] = []
    for copy in copies:
        changes, known, _ = st.decide(known, st.parse_feed(copy), first_sight=False, now=NOW)
        out.append([(k, i.status, [s.status for s in i.steps]) for k, i in changes])
    return out, known


SP_OLD = atom(statuspage_entry(1, "API", [INVESTIGATING], updated="2026-11-03T14:00:00Z"))
SP_NEW = atom(statuspage_entry(1, "API", [IDENTIFIED, INVESTIGATING],
                               updated="2026-11-03T14:10:00Z"))
SP_NEWER = atom(statuspage_entry(1, "API", [MONITORING, IDENTIFIED, INVESTIGATING],
                                 updated="2026-11-03T14:20:00Z"))


def test_alternating_statuspage_copies_report_the_new_step_once_and_never_go_back() -> None:
    _, known = reads(SP_OLD)
    events, known = reads(SP_NEW, SP_OLD, SP_NEW, SP_OLD, SP_NEWER, SP_OLD, SP_NEW, known=known)
    assert events == [[("updated", "Identified", ["Identified"])], [], [], [],
                      [("updated", "Monitoring", ["Monitoring"])], [], []]
    # Nothing older was remembered on the way: the newest copy is still not news.
    assert reads(SP_NEWER, known=known)[0] == [[]]


def test_a_stale_copy_is_told_by_its_steps_even_where_its_time_is_not_older() -> None:
    same_time = atom(statuspage_entry(1, "API", [INVESTIGATING], updated="2026-11-03T14:10:00Z"))
    _, known = reads(SP_OLD, SP_NEW)
    changes, _, stale = st.decide(known, st.parse_feed(same_time), first_sight=False, now=NOW)
    assert changes == [] and stale == {"tag:status.example.test,2005:Incident/1"}


def test_alternating_incidentio_copies_report_each_version_once() -> None:
    def copy(status: str, message: str, updated: str) -> bytes:
        return atom(incidentio_entry("01KFLAP", "Codex errors", status, message,
                                     updated=updated))

    old = copy("Investigating", "Looking.", "2026-11-03T14:00:00.000Z")
    new = copy("Identified", "Found it.", "2026-11-03T14:10:00.000Z")
    events, _ = reads(old, new, old, new, old)
    assert events == [[("new", "Investigating", ["Investigating"])],
                      [("updated", "Identified", ["Identified"])], [], [], []]


def test_alternating_copies_without_times_report_each_version_once() -> None:
    def copy(text: str) -> bytes:
        return rss(f"<item><title>Mail delays</title><description>{text}</description>"
                   "<guid>https://status.example.test/mail</guid></item>")

    events, known = reads(copy("Looking."), copy("Found it."), copy("Looking."),
                          copy("Found it."), copy("Fixed."), copy("Looking."))
    assert [len(e) for e in events] == [1, 1, 0, 0, 1, 0]
    assert reads(copy("Fixed."), copy("Found it."), known=known)[0] == [[], []]


def test_an_incident_missing_from_a_stale_copy_is_not_gone_and_not_new_when_back() -> None:
    second = statuspage_entry(2, "Webhooks slow", [INVESTIGATING], updated="2026-11-03T14:15:00Z")
    with_both = atom(second, statuspage_entry(1, "API", [IDENTIFIED, INVESTIGATING],
                                              updated="2026-11-03T14:10:00Z"))
    events, _ = reads(SP_OLD, with_both, SP_OLD, with_both)
    assert events == [[("new", "Investigating", ["Investigating"])],
                      [("new", "Investigating", ["Investigating"]),  # 14:00, then 14:10
                       ("updated", "Identified", ["Identified"])], [], []]


def test_a_step_removed_by_the_page_is_never_news_and_later_steps_still_are() -> None:
    # Reported: Investigating, Identified. Then every copy shows Identified gone (the page's
    # operators deleted it): silence, however long it lasts, and a new step is still news.
    corrected = atom(statuspage_entry(1, "API", [INVESTIGATING], updated="2026-11-03T14:30:00Z"))
    later = atom(statuspage_entry(1, "API", [MONITORING, INVESTIGATING],
                                  updated="2026-11-03T14:40:00Z"))
    events, _ = reads(SP_OLD, SP_NEW, corrected, corrected, corrected, later)
    assert events == [[("new", "Investigating", ["Investigating"])],
                      [("updated", "Identified", ["Identified"])], [], [], [],
                      [("updated", "Monitoring", ["Monitoring"])]]


def test_a_catch_up_is_one_event_per_incident_oldest_first_by_its_newest_step() -> None:
    opened_late = statuspage_entry(7, "Pages slow", [
        ("Nov 3, 15:40 UTC", "Resolved", "Fixed."), ("Nov 3, 15:30 UTC", "Investigating", "A.")],
        updated="2026-11-03T15:40:00Z")
    long_one = statuspage_entry(6, "Git down", [
        ("Nov 3, 16:00 UTC", "Resolved", "Done."), ("Nov 3, 15:10 UTC", "Monitoring", "B."),
        ("Nov 3, 15:05 UTC", "Update", "C."), ("Nov 3, 15:00 UTC", "Identified", "D."),
        ("Nov 3, 14:50 UTC", "Investigating", "E.")], updated="2026-11-03T16:00:00Z")
    _, known = reads(SP_OLD)
    gap = atom(long_one, opened_late, statuspage_entry(
        1, "API", [RESOLVED, MONITORING, IDENTIFIED, INVESTIGATING],
        updated="2026-11-03T14:32:00Z"))
    changes, known, _ = st.decide(known, st.parse_feed(gap), first_sight=False, now=NOW)
    assert [(k, i.title, i.updated, len(i.steps)) for k, i in changes] == [
        ("updated", "API", datetime(2026, 11, 3, 14, 32, tzinfo=UTC), 3),
        ("new", "Pages slow", datetime(2026, 11, 3, 15, 40, tzinfo=UTC), 2),
        ("new", "Git down", datetime(2026, 11, 3, 16, 0, tzinfo=UTC), 5)]
    assert [s.status for s in changes[2][1].steps] == [
        "Investigating", "Identified", "Identified", "Monitoring", "Resolved"]
    assert st.decide(known, st.parse_feed(gap), first_sight=False, now=NOW)[0] == []


# --- HTTP: conditional GET and parse-only-on-change (aioresponses) ---

FEED_URL = "https://status.example.test/history.atom"


@pytest.fixture
def parse_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts feedparser calls made by the tracker."""
    calls: list[int] = []
    real = feedparser.parse

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(feedparser, "parse", counting)
    return calls


def sent_headers(mock: aioresponses, url: str = FEED_URL) -> list[dict[str, str]]:
    from yarl import URL

    return [call.kwargs["headers"] for call in mock.requests[("GET", URL(url))]]


async def test_validators_are_sent_back_verbatim_and_refreshed_from_every_304(
        parse_calls: list[int]) -> None:
    spy = Spy()
    with aioresponses() as mock:
        mock.get(FEED_URL, status=200, body=atom(OPENAI_RESOLVED),
                 headers={"ETag": 'W/"v1"', "Last-Modified": "Tue, 03 Nov 2026 14:00:00 GMT"})
        mock.get(FEED_URL, status=304, headers={"ETag": 'W/"v2"'})
        mock.get(FEED_URL, status=304)
        async with aiohttp.ClientSession() as session:
            mon = monitor(session, FEED_URL, spy)
            assert [bool(await mon.poll()) for _ in range(3)] == [True, True, True]
        headers = sent_headers(mock)
    assert "If-None-Match" not in headers[0] and "If-Modified-Since" not in headers[0]
    assert (headers[1]["If-None-Match"], headers[1]["If-Modified-Since"]) == (
        'W/"v1"', "Tue, 03 Nov 2026 14:00:00 GMT")
    assert (headers[2]["If-None-Match"], headers[2]["If-Modified-Since"]) == (
        'W/"v2"', "Tue, 03 Nov 2026 14:00:00 GMT")
    assert headers[0] == {k: v for k, v in headers[2].items() if not k.startswith("If-")}
    assert len(parse_calls) == 1
    assert (mon.stats.polls, mon.stats.not_modified, mon.stats.parses) == (3, 2, 1)
    assert spy.events == []


async def test_validators_of_a_body_that_failed_to_parse_are_not_kept() -> None:
    """Otherwise the next poll gets a 304 for the broken body, counts as recovered, and the
    whole document is never read until the feed changes again."""
    whole = atom(OPENAI_ACTIVE, OPENAI_RESOLVED)
    spy = Spy()
    with aioresponses() as mock:
        mock.get(FEED_URL, body=atom(OPENAI_RESOLVED), headers={"ETag": '"v1"'})
        mock.get(FEED_URL, body=whole[:-300], headers={"ETag": '"v2"'})  # cut off in transit
        mock.get(FEED_URL, body=whole, headers={"ETag": '"v2"'})
        async with aiohttp.ClientSession() as session:
            mon = monitor(session, FEED_URL, spy)
            assert [bool(await mon.poll()) for _ in range(3)] == [True, False, True]
        headers = sent_headers(mock)
    assert [h.get("If-None-Match") for h in headers] == [None, '"v1"', '"v1"']
    assert spy.kinds() == [("new", "Elevated error rates in ChatGPT")]
    assert mon.state.etag == '"v2"'


async def test_a_feed_without_validators_is_parsed_only_when_an_entry_changes(
        parse_calls: list[int]) -> None:
    spy = Spy()
    with aioresponses() as mock:
        mock.get(FEED_URL, body=atom(OPENAI_RESOLVED, updated="2026-11-03T14:00:00.001Z"))
        mock.get(FEED_URL, body=atom(OPENAI_RESOLVED, updated="2026-11-03T14:01:00.002Z"))
        mock.get(FEED_URL, body=atom(OPENAI_ACTIVE, OPENAI_RESOLVED,
                                     updated="2026-11-03T14:02:00.003Z"))
        async with aiohttp.ClientSession() as session:
            mon = monitor(session, FEED_URL, spy)
            for _ in range(3):
                assert await mon.poll()
        headers = sent_headers(mock)
    assert all("If-None-Match" not in h and "If-Modified-Since" not in h for h in headers)
    assert len(parse_calls) == 2
    assert spy.kinds() == [("new", "Elevated error rates in ChatGPT")]


class Alternating:
    """A route that serves its copies in turn, as CDN edges holding different copies do."""

    def __init__(self, *copies: bytes, enough: int = 0) -> None:
        self.copies = copies
        self.served = 0
        self.enough = asyncio.Event()  # set once `enough` requests were answered
        self.wanted = enough

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        body = self.copies[self.served % len(self.copies)]
        self.served += 1
        if self.served >= self.wanted:
            self.enough.set()
        return web.Response(body=body, content_type="application/atom+xml")


async def test_a_copy_seen_before_is_not_parsed_again_and_the_board_never_goes_back(
        server: FeedServer, session: aiohttp.ClientSession,
        parse_calls: list[int]) -> None:
    old = atom(incidentio_entry("01KFLAP", "Codex errors", "Investigating", "Looking.",
                                updated="2026-11-03T14:00:00.000Z"))
    new = atom(incidentio_entry("01KFLAP", "Codex errors", "Resolved", "Fixed.",
                                updated="2026-11-03T14:10:00.000Z"))
    server.routes["/feed"] = Route(handler=Alternating(old, new))
    spy = Spy()
    mon = monitor(session, server.url("/feed"), spy)
    for _ in range(6):
        assert await mon.poll()
    assert [(e.kind, e.incident.status if e.incident else "") for e in spy.events] == [
        ("active", "Investigating"), ("updated", "Resolved")]
    assert len(parse_calls) == 2 and mon.stats.unchanged == 4
    assert mon.incidents == [] and mon.state.open_incidents == 0  # resolved, whatever copy


async def test_a_stale_copy_read_once_keeps_the_board_on_what_was_read_before(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    opened = incidentio_entry("01KNEWER", "Sora down", "Investigating", "Looking.",
                              updated="2026-11-03T14:20:00.000Z")
    copies = [atom(OPENAI_ACTIVE, OPENAI_RESOLVED), atom(opened, OPENAI_ACTIVE, OPENAI_RESOLVED),
              atom(opened, OPENAI_ACTIVE.replace("Investigating", "Resolved").replace(
                  "14:32:00.123Z", "14:40:00.000Z"), OPENAI_RESOLVED)]
    route = Route()
    server.routes["/feed"] = route
    mon = monitor(session, server.url("/feed"), Spy())

    async def board_after(body: bytes) -> list[tuple[str, str]]:
        route.body = body
        assert await mon.poll()
        return sorted((i.title, i.status) for i in mon.incidents)

    assert await board_after(copies[0]) == [("Elevated error rates in ChatGPT", "Investigating")]
    assert await board_after(copies[1]) == [("Elevated error rates in ChatGPT", "Investigating"),
                                            ("Sora down", "Investigating")]
    assert await board_after(copies[2]) == [("Sora down", "Investigating")]  # one resolved
    # An older copy: the resolved incident stays resolved, the missing one is not gone.
    assert await board_after(copies[0] + b"<!-- an edge's own copy -->") == [
        ("Sora down", "Investigating")]


async def test_a_copy_without_an_open_incident_and_with_nothing_new_keeps_it_on_the_board(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    sora = incidentio_entry("01KNEWER", "Sora down", "Investigating", "Looking.",
                            updated="2026-11-03T14:20:00.000Z")
    without, with_it = atom(OPENAI_RESOLVED), atom(sora, OPENAI_RESOLVED)
    server.routes["/feed"] = Route(handler=Alternating(
        without, with_it, without + b"<!-- another edge -->"))
    spy = Spy()
    mon = monitor(session, server.url("/feed"), spy)
    boards = []
    for _ in range(4):
        assert await mon.poll()
        boards.append([i.title for i in mon.incidents])
    assert boards == [[], ["Sora down"], ["Sora down"], ["Sora down"]]
    assert mon.state.open_incidents == 1
    assert [(e.kind, e.incident.title if e.incident else "") for e in spy.events] == [
        ("new", "Sora down")]
    # A copy with news that lacks it: the page moved on without it.
    newest = incidentio_entry("01KNEWEST", "Codex slow", "Resolved", "Fixed.",
                              updated="2026-11-03T15:00:00.000Z")
    server.routes["/feed"] = Route(body=atom(newest, OPENAI_RESOLVED))
    assert await mon.poll() and mon.incidents == []


async def test_after_a_restart_a_stale_first_copy_is_kept_off_the_board_until_a_fresh_one(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    fresh = atom(OPENAI_ACTIVE.replace("Investigating", "Resolved").replace(
        "14:32:00.123Z", "14:40:00.000Z"))
    stale = atom(OPENAI_ACTIVE)
    route = Route(body=fresh)
    server.routes["/feed"] = route
    before = monitor(session, server.url("/feed"), Spy())
    assert await before.poll() and before.incidents == []
    # The next process, showing a page: its first read meets an edge behind the others.
    after = monitor(session, server.url("/feed"), Spy(), state=before.state)
    after.shows_board = True
    route.body = stale
    assert await after.poll() and after.incidents == []
    route.body = fresh
    assert await after.poll() and after.incidents == [] and after.stats.parses == 2
    opened = atom(OPENAI_ACTIVE.replace("14:32:00.123Z", "14:50:00.000Z"))
    route.body = opened
    assert await after.poll()
    assert [(i.title, i.status) for i in after.incidents] == [
        ("Elevated error rates in ChatGPT", "Investigating")]


async def test_a_callback_that_raises_is_logged_and_polling_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def broken(event: st.IncidentEvent) -> None:
        seen.append(event.kind)
        raise RuntimeError("receiver exploded")

    with aioresponses() as mock:
        mock.get(FEED_URL, body=atom(OPENAI_ACTIVE))
        mock.get(FEED_URL, body=atom(OPENAI_ACTIVE.replace("Investigating", "Monitoring")))
        async with aiohttp.ClientSession() as session:
            mon = st.StatusPageMonitor("Example", FEED_URL,
                                       st.Shared(session, clock=FakeClock()), broken)
            assert await mon.poll() and await mon.poll()
    assert seen == ["active", "updated"]
    assert ("callback failed on an event of kind active: RuntimeError: receiver exploded"
            in caplog.text)


async def test_async_callbacks_are_awaited() -> None:
    seen: list[str] = []

    async def callback(event: st.IncidentEvent) -> None:
        await asyncio.sleep(0)
        seen.append(event.kind)

    with aioresponses() as mock:
        mock.get(FEED_URL, body=atom(OPENAI_ACTIVE))
        async with aiohttp.ClientSession() as session:
            await st.StatusPageMonitor("Example", FEED_URL, session, callback).poll()
    assert seen == ["active"]


async def test_failures_are_logged_once_retried_with_backoff_and_never_clear_the_feed(
        caplog: pytest.LogCaptureFixture) -> None:
    spy = Spy()
    with aioresponses() as mock:
        mock.get(FEED_URL, body=atom(OPENAI_ACTIVE))
        for _ in range(4):
            mock.get(FEED_URL, status=500, body="oops")
        mock.get(FEED_URL, body=atom(OPENAI_ACTIVE))
        async with aiohttp.ClientSession() as session:
            mon = monitor(session, FEED_URL, spy, interval=10, max_interval=100)
            assert await mon.poll()
            known = dict(mon.state.known)
            delays = []
            for _ in range(4):
                failed = await mon.poll()
                assert not failed
                delays.append(failed.delay)
            assert mon.state.known == known
            recovered = await mon.poll()
            assert recovered
    assert caplog.text.count("Example: HTTP 500") == 1
    assert caplog.text.count("reading again after 4 failed polls") == 1
    assert [10 <= d <= min(100, 10 * 2 ** (n + 1)) for n, d in enumerate(delays)] == [True] * 4
    assert delays[-1] > 20  # the ceiling grew; with this seed the draw is well above the base
    assert spy.kinds() == [("active", "Elevated error rates in ChatGPT"),
                           ("feed_down", "HTTP 500"), ("feed_recovered", "")]
    assert recovered.delay >= 10


class Keeper:
    """A stand-in state store: records each state handed over, and whether it was to be
    written at once."""

    def __init__(self) -> None:
        self.changes: list[tuple[st.FeedState, bool]] = []
        self.polled: list[datetime] = []

    def polled_at(self, url: str, when: datetime) -> None:
        self.polled.append(when)

    async def changed(self, url: str, state: st.FeedState, save: bool = True) -> None:
        self.changes.append((state, save))


async def test_a_304_without_validators_is_not_a_state_change() -> None:
    keeper = Keeper()
    with aioresponses() as mock:
        mock.get(FEED_URL, body=atom(OPENAI_RESOLVED), headers={"ETag": '"a"'})
        mock.get(FEED_URL, status=304)
        mock.get(FEED_URL, status=304, headers={"ETag": '"b"'})
        async with aiohttp.ClientSession() as session:
            mon = monitor(session, FEED_URL, Spy(), store=keeper)
            for _ in range(3):
                assert await mon.poll()
    assert [(state.etag, save) for state, save in keeper.changes] == [('"a"', True),
                                                                     ('"b"', True)]
    assert mon.state.etag == '"b"' and keeper.polled == [NOW, NOW, NOW]


async def test_a_parser_crash_on_hostile_bytes_is_a_feed_error_not_a_dead_watch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def exploding(body: bytes) -> list[st.Incident]:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(st, "parse_feed", exploding)
    spy = Spy()
    with aioresponses() as mock:
        for _ in range(3):
            mock.get(FEED_URL, body=atom(OPENAI_ACTIVE))
        async with aiohttp.ClientSession() as session:
            mon = monitor(session, FEED_URL, spy)
            assert [bool(await mon.poll()) for _ in range(3)] == [False, False, False]
    assert spy.kinds() == [("feed_down", "could not parse the feed: "
                                         "RecursionError: maximum recursion depth exceeded")]


async def test_a_bug_that_kills_a_monitor_is_reported_loudly(
        session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture) -> None:
    class Buggy(st.StatusPageMonitor):
        async def poll(self) -> st.PollResult:  # replaces the supervised poll: a bug gets out
            raise ZeroDivisionError("oops")

    buggy = Buggy("Buggy", "http://127.0.0.1:9/", session, Spy(), start_spread=0)
    fleet = st.Fleet(st.Shared(session, clock=FakeClock()), store=None,
                     console=st.ConsolePrinter(io.StringIO()))
    fleet.monitors[buggy.url] = buggy
    code = await asyncio.wait_for(st._watch(fleet, asyncio.Event()), 5)
    [record] = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert record.getMessage() == ("Buggy stopped by an internal error; exiting so that it "
                                   "can be restarted: ZeroDivisionError('oops')")
    assert code == st.EXIT_INTERNAL


# --- The monitor's loop and the scheduler ---


async def test_polls_are_spread_at_start_and_honour_cache_max_age(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    server.routes["/feed"] = Route(body=atom(OPENAI_RESOLVED),
                                   headers={"Cache-Control": "public, max-age=300", "Age": "60"})
    mon = monitor(session, server.url("/feed"), Spy(), interval=30, max_interval=250)
    assert all(0 <= mon.first_delay() <= 5 for _ in range(20))  # within the start spread
    result = await mon.poll()
    assert result and 239.9 <= result.delay <= 240.5  # max-age 300 minus Age 60, plus jitter
    server.routes["/feed"].headers = {"Cache-Control": "max-age=99999"}
    result = await mon.poll()
    assert result and 250 <= result.delay <= 250.5  # clamped to --max-interval


class FakeTimers:
    """An injected clock and call_at: time moves only when the test says so."""

    @dataclass
    class Handle:
        when: float
        callback: Callable[[], None]
        cancelled: bool = False

        def cancel(self) -> None:
            self.cancelled = True

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[FakeTimers.Handle] = []

    def clock(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> FakeTimers.Handle:
        handle = FakeTimers.Handle(when, callback)
        self.timers.append(handle)
        return handle

    async def run_until(self, end: float) -> None:
        """Fire each due timer in turn, letting the loop run the polls it starts."""
        await settle()
        while True:
            live = [t for t in self.timers if not t.cancelled and t.when <= end]
            if not live:
                break
            first = min(live, key=lambda t: t.when)
            self.now = max(self.now, first.when)
            first.cancelled = True
            first.callback()
            await settle()
        self.now = end


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@dataclass
class FakeFeed:
    """A stand-in monitor: records when each poll starts, asks for the next delays given."""

    name: str
    timers: FakeTimers
    offset: float
    delays: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    failing_reason: str | None = None
    cold: bool = False

    def first_delay(self) -> float:
        return self.offset

    async def poll(self) -> st.PollResult:
        self.starts.append(self.timers.now)
        return st.PollResult(True, self.delays.pop(0) if self.delays else 10.0)


@dataclass
class SlowFeed(FakeFeed):
    """A feed whose every poll waits `waits` seconds (behind other feeds) before it is done."""

    waits: float = 7.0

    async def poll(self) -> st.PollResult:
        self.starts.append(self.timers.now)
        self.timers.now += self.waits
        return st.PollResult(True, self.delays.pop(0) if self.delays else 30.0)


async def test_the_next_poll_is_counted_from_the_start_of_a_slow_poll() -> None:
    timers = FakeTimers()
    slow = SlowFeed("slow", timers, 1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(st.Scheduler([slow], slot=0.1, clock=timers.clock,
                                            call_at=timers.call_at).run(stop))
    await timers.run_until(100.0)
    # Every 30 s from each poll's start: from its end would be 1, 38, 75.
    assert slow.starts == [1.0, 31.0, 61.0, 91.0]
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_polls_due_within_one_slot_start_together_on_one_wakeup() -> None:
    timers = FakeTimers()
    feeds = [FakeFeed(f"f{i}", timers, offset) for i, offset in enumerate((0.2, 0.23, 0.29, 0.6))]
    stop = asyncio.Event()
    scheduler = st.Scheduler(feeds, slot=0.1, clock=timers.clock, call_at=timers.call_at)
    task = asyncio.create_task(scheduler.run(stop))
    await timers.run_until(1.0)
    assert [f.starts for f in feeds] == [[0.2], [0.2], [0.2], [0.6]]
    assert scheduler.wakeups == 2  # two slots, not four timers
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_no_poll_is_late_by_more_than_a_slot_and_each_keeps_its_own_delays() -> None:
    timers = FakeTimers()
    rng = random.Random(5)
    feeds = [FakeFeed(f"f{i}", timers, rng.uniform(0, 3),
                      [rng.choice((1.0, 1.3, 7.3, 42.0)) for _ in range(40)]) for i in range(50)]
    planned = {f.name: list(f.delays) for f in feeds}
    stop = asyncio.Event()
    task = asyncio.create_task(st.Scheduler(feeds, slot=0.1, clock=timers.clock,
                                            call_at=timers.call_at).run(stop))
    await timers.run_until(120.0)
    stop.set()
    await asyncio.wait_for(task, 5)
    for feed in feeds:
        due = [feed.offset]
        for delay in planned[feed.name][: len(feed.starts) - 1]:
            due.append(feed.starts[len(due) - 1] + delay)  # from the start of the last poll
        assert len(feed.starts) >= 3
        assert all(-0.1 - 1e-9 <= d - s <= 0.1 + 1e-9 for s, d in zip(feed.starts, due,
                                                                     strict=True))


async def test_a_stop_wakes_the_scheduler_at_once_and_cancels_polls_in_flight() -> None:
    timers = FakeTimers()
    started = asyncio.Event()

    class Hanging(FakeFeed):
        async def poll(self) -> st.PollResult:
            started.set()
            await asyncio.Event().wait()  # a request that never answers
            return st.PollResult(True, 10.0)

    feeds = [Hanging("hang", timers, 0.0), FakeFeed("later", timers, 3600.0)]
    stop = asyncio.Event()
    task = asyncio.create_task(st.Scheduler(feeds, clock=timers.clock,
                                            call_at=timers.call_at).run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 1)  # no timer fired: the stop itself woke it
    assert feeds[1].starts == []


async def test_first_reads_are_paced_by_parse_time_and_never_delay_feeds_already_read() -> None:
    timers, meter = FakeTimers(), st.ParseMeter()

    @dataclass
    class ColdFeed(FakeFeed):
        cold: bool = True

        async def poll(self) -> st.PollResult:
            self.cold = False
            meter.spent += 0.1  # each first read parses for 100 ms of the loop's time
            return await super().poll()

    cold = [ColdFeed(f"c{i}", timers, 0.0, delays=[60.0]) for i in range(100)]
    warm = FakeFeed("warm", timers, 0.05, delays=[1.0] * 30)
    stop = asyncio.Event()
    task = asyncio.create_task(st.Scheduler([*cold, warm], clock=timers.clock,
                                            call_at=timers.call_at, meter=meter).run(stop))
    # 10 s of parsing: a burst of COLD_BURST, the rest at COLD_SHARE of the clock.
    needs = st.COLD_BURST + (10.0 - st.COLD_BURST) / st.COLD_SHARE
    await timers.run_until(needs + 5.0)
    firsts = sorted(f.starts[0] for f in cold if f.starts)
    assert len(firsts) == 100  # all read within the time their parsing needs at that share
    for t in range(2, int(needs)):  # after the first burst, each window parses its share
        assert sum(t <= s < t + 2 for s in firsts) * 0.1 <= st.COLD_SHARE * 2 + 0.2, firsts
    assert firsts[-1] >= needs - 2  # paced: not all at once
    gaps = [b - a for a, b in itertools.pairwise(warm.starts)]
    assert gaps and max(gaps) <= 1.0 + st.SLOT + 1e-9  # the feed already read kept its schedule
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_the_scheduler_ends_when_every_feed_is_gone_and_raises_on_a_bug() -> None:
    timers = FakeTimers()

    class Gone(FakeFeed):
        async def poll(self) -> st.PollResult:
            return st.PollResult(False, 10.0, gone=True)

    await asyncio.wait_for(st.Scheduler([Gone("g", timers, 0.0)], clock=timers.clock,
                                        call_at=timers.call_at).run(asyncio.Event()), 5)

    class Buggy(FakeFeed):
        async def poll(self) -> st.PollResult:
            raise KeyError("bug")

    with pytest.raises(st.MonitorCrash, match="b: KeyError"):
        await asyncio.wait_for(st.Scheduler([Buggy("b", timers, 0.0)], clock=timers.clock,
                                            call_at=timers.call_at).run(asyncio.Event()), 5)


def test_the_health_policy_goes_down_once_after_the_threshold_and_recovers_once() -> None:
    policy = st.RetryPolicy(interval=60, max_interval=600, failure_threshold=3)
    rng, health, said = random.Random(1), st.Health(), []
    for _ in range(4):
        health, events, delay = st.next_health(health, st.Outcome("HTTP 500"), policy=policy,
                                               rng=rng)
        said += events
        assert 60 <= delay <= 600
    assert health == st.Health(4, down=True) and said == ["feed_down"]
    health, events, delay = st.next_health(health, st.Outcome(), policy=policy, rng=rng)
    assert (health, events) == (st.Health(), ["feed_recovered"]) and 60 <= delay <= 60.5


def test_the_health_policy_honours_gone_retry_after_and_freshness_within_the_ceiling() -> None:
    policy, rng = st.RetryPolicy(interval=10, max_interval=300), random.Random(2)
    health, events, _ = st.next_health(st.Health(), st.Outcome("gone", gone=True), policy=policy,
                                       rng=rng)
    assert health.down and events == ["feed_down"]  # at once, not after three
    _, _, delay = st.next_health(st.Health(), st.Outcome("HTTP 429", retry_after=250),
                                 policy=policy, rng=rng)
    assert delay == 250  # above any first backoff (10 to 20 s): ignoring it would fail
    _, _, delay = st.next_health(st.Health(), st.Outcome("HTTP 429", retry_after=9999),
                                 policy=policy, rng=rng)
    assert delay == 300
    _, _, delay = st.next_health(st.Health(), st.Outcome(fresh_for=120), policy=policy, rng=rng)
    assert 120 <= delay <= 120.5
    zero = st.RetryPolicy(interval=0, max_interval=300)
    _, _, delay = st.next_health(st.Health(), st.Outcome("x"), policy=zero, rng=rng)
    assert delay >= st.MIN_BACKOFF  # a zero interval never spins on a failure


def test_a_large_fleet_spreads_its_first_polls_within_one_interval() -> None:
    assert st.start_spread(10, 60) == 5
    assert st.start_spread(10_000, 60) == 50
    assert st.start_spread(10_000, 15) == 15
    assert st.start_spread(10, 2) == 2


def test_freshness_comes_from_max_age_minus_age_else_expires_against_the_server_date() -> None:
    assert st.freshness_seconds({"Cache-Control": "public, max-age=300", "Age": "60"}, NOW) == 240
    assert st.freshness_seconds({"Expires": "Tue, 03 Nov 2026 15:02:00 GMT",
                                 "Date": "Tue, 03 Nov 2026 15:01:00 GMT"}, NOW) == 60
    assert st.freshness_seconds({"Expires": "Tue, 03 Nov 2026 15:02:00 GMT"}, NOW) == 120
    assert st.freshness_seconds({"Cache-Control": "no-cache, max-age=300"}, NOW) is None
    assert st.freshness_seconds({"Expires": "0"}, NOW) is None


async def test_http_410_stops_the_feed_for_good(server: FeedServer,
                                                session: aiohttp.ClientSession) -> None:
    server.routes["/gone"] = Route(status=410, body=b"gone")
    spy = Spy()
    mon = monitor(session, server.url("/gone"), spy, start_spread=0)
    # Returns: with the feed gone there is nothing left to poll.
    await asyncio.wait_for(st.Scheduler([mon]).run(asyncio.Event()), 5)
    assert mon.stats.polls == 1
    assert spy.kinds() == [("feed_down", "gone (HTTP 410): the feed was removed; polling stopped")]


# --- Output ---


def test_console_block_matches_the_documented_layout() -> None:
    [inc] = st.parse_feed(atom(OPENAI_ACTIVE))
    out = io.StringIO()
    st.ConsolePrinter(out)(st.IncidentEvent("OpenAI", st.Kind.NEW, inc))
    assert out.getvalue() == (
        "[2026-11-03 14:32:00 UTC] Product: OpenAI - Conversations (Degraded performance)\n"
        "  Event:    New incident\n"
        "  Incident: Elevated error rates in ChatGPT\n"
        "  Status:   Investigating\n"
        "  Message:  We are investigating elevated error rates.\n"
        "  Link:     https://status.openai.com//incidents/01KACTIVE\n\n")


def test_events_of_one_incident_that_differ_only_in_their_message_have_other_ids() -> None:
    first = st.IncidentEvent("GitHub", st.Kind.UPDATED, incident(message="Looking."))
    second = st.IncidentEvent("GitHub", st.Kind.UPDATED, incident(message="Still looking."))
    again = st.IncidentEvent("GitHub", st.Kind.UPDATED, incident(message="Looking."))
    assert first.event_id != second.event_id and first.event_id == again.event_id


def test_json_lines_carry_the_documented_keys() -> None:
    [inc] = st.parse_feed(atom(OPENAI_ACTIVE))
    out = io.StringIO()
    printer = st.ConsolePrinter(out, as_json=True)
    printer(st.IncidentEvent("OpenAI", st.Kind.ACTIVE, inc))
    printer(st.IncidentEvent("OpenAI", st.Kind.FEED_DOWN, error="HTTP 503", at=NOW))
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first == {
        "kind": "active", "feed": "OpenAI", "id": "https://status.openai.com//incidents/01KACTIVE",
        "title": "Elevated error rates in ChatGPT", "status": "Investigating",
        "components": ["Conversations (Degraded performance)"], "impact": None,
        "message": "We are investigating elevated error rates.",
        "link": "https://status.openai.com//incidents/01KACTIVE", "published": None,
        "updated": "2026-11-03T14:32:00Z",
        "steps": [{"status": "Investigating", "message": "We are investigating elevated error "
                   "rates.", "at": "2026-11-03T14:32:00Z"}],
    }
    assert second == {"kind": "feed_down", "feed": "OpenAI", "error": "HTTP 503",
                      "at": "2026-11-03T15:00:00Z"}


# --- The real CLI against a real local server ---


async def run_cli(*args: str, timeout: float = 30, env: dict[str, str] | None = None
                  ) -> tuple[int, str, str]:
    """The real CLI as a process; `env` is added to this process's environment. Run as
    `python -m status_tracker`, which is the script with its compiled form cached: a script
    run by its path is compiled again at every start (a tenth of a second here), which the
    README's own commands, run as printed by their test, still pay."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "status_tracker", *args, cwd=HERE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env} if env else None)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def read_until(stream: asyncio.StreamReader, *needles: str, timeout: float = 15) -> str:
    """Read lines until every needle has appeared (in any order)."""
    seen = ""

    async def reader() -> str:
        nonlocal seen
        while not all(n in seen for n in needles):
            line = await stream.readline()
            if not line:
                raise AssertionError(f"stream ended before {needles!r}; got:\n{seen}")
            seen += line.decode()
        return seen

    return await asyncio.wait_for(reader(), timeout)


async def test_cli_once_reports_active_incidents_and_says_what_it_watches(
        server: FeedServer) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE, OPENAI_RESOLVED))
    code, out, err = await run_cli("--once", "--feed", f"OpenAI={server.url('/openai')}")
    assert code == 0, err
    assert out == (
        "[2026-11-03 14:32:00 UTC] Product: OpenAI - Conversations (Degraded performance)\n"
        "  Event:    Ongoing (open when watching started)\n"
        "  Incident: Elevated error rates in ChatGPT\n"
        "  Status:   Investigating\n"
        "  Message:  We are investigating elevated error rates.\n"
        "  Link:     https://status.openai.com//incidents/01KACTIVE\n\n")
    assert "OpenAI: 2 incidents, 1 active" in err
    assert "OpenAI: 1 poll, 0 not modified (304)" in err
    host = st.redact_url(server.url("/openai"))
    assert re.match(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d INFO reading 1 feed once: "
                    rf"OpenAI \({re.escape(host)}\)\n", err), err
    assert "first read: only incidents open now are printed" in err


async def test_the_cli_reads_feeds_when_run_under_a_profiler(server: FeedServer,
                                                            tmp_path: Path) -> None:
    # Under python -m cProfile (as under runpy) "__main__" is not this script's module: the
    # parser must still be found, or every feed would read as unparseable.
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE, OPENAI_RESOLVED))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cProfile", "-o", str(tmp_path / "profile"),
        str(HERE / "status_tracker.py"), "--once", "--feed", f"OpenAI={server.url('/openai')}",
        cwd=HERE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "OpenAI: 2 incidents, 1 active" in err.decode()
    assert "Incident: Elevated error rates in ChatGPT" in out.decode()


async def test_every_request_names_the_product_and_a_contact_only_when_given(
        server: FeedServer) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_RESOLVED))
    code, _, err = await run_cli("--once", "--feed", f"OpenAI={server.url('/openai')}")
    assert code == 0, err
    code, _, err = await run_cli("--once", "--feed", f"OpenAI={server.url('/openai')}",
                                 "--contact", "mailto:ops@example.com")
    assert code == 0, err
    agents = [headers["User-Agent"] for _, headers in server.requests]
    assert agents == [f"status_tracker/{st.__version__}",
                      f"status_tracker/{st.__version__} (+mailto:ops@example.com)"]


@pytest.mark.parametrize("contact", ["ops@example.com", "mailto:a b@example.com",
                                     "mailto:ops@example.com\r\nX-Evil: 1", "ftp://x.test/"])
def test_a_contact_that_is_no_address_or_url_is_refused(
        contact: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        st.main(["--contact", contact, "--once"])
    assert exited.value.code == 2
    assert "argument --contact: expected mailto:ADDRESS or an http(s) URL" in (
        capsys.readouterr().err)


async def test_cli_once_with_history_and_json_and_a_failing_feed_exits_1(
        server: FeedServer) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE, OPENAI_RESOLVED))
    server.routes["/broken"] = Route(status=503, body=b"down for maintenance")
    code, out, err = await run_cli("--once", "--json", "--history", "5",
                                   "--feed", f"OpenAI={server.url('/openai')}",
                                   "--feed", f"Broken={server.url('/broken')}")
    assert code == 1
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["kind"], e["title"]) for e in events] == [
        ("history", "Sora slow"), ("active", "Elevated error rates in ChatGPT")]
    assert "Broken: HTTP 503" in err and "Traceback" not in err


async def test_cli_prints_nothing_unsafe_from_a_hostile_feed(server: FeedServer) -> None:
    hostile = incidentio_entry("01KEVIL", "Evil \x1b[2J\x1b]0;pwned\x07title\u202e",
                               "Investigating", "msg &#x1b;[31m red \x9b1m", ("A\x1b[5m (x)",))
    server.routes["/evil"] = Route(body=atom(hostile.replace("\x1b", "&#x1b;")))
    server.routes["/evil2"] = Route(body=atom(hostile.replace("\x9b", "")))
    code, out, err = await run_cli("--once", "--feed", f"Evil={server.url('/evil')}",
                                   "--feed", f"Evil2={server.url('/evil2')}")
    assert code == 0, err
    assert "Incident: Evil [2J]0;pwnedtitle" in out or "Incident: Evil title" in out
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", out + err)


async def test_without_the_requirements_the_cli_says_in_one_line_how_to_get_them() -> None:
    # -S: no site-packages, so none of the requirements, as with the system's Python.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-S", str(HERE / "status_tracker.py"), "--once", cwd=HERE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and out == b""
    assert err.decode() == (f"status_tracker.py: error: the aiohttp package is not installed "
                            f"for {sys.executable}; install the requirements (pip install -r "
                            "requirements.txt) in the project's virtual environment, as the "
                            "README shows, and run it from there\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--discover", "githb"], "--discover: unknown page 'githb'; the nearest: github, "),
    (["--components", "ftp://x.test/"], "--components: not an http(s) URL")])
def test_a_page_looked_up_that_is_neither_known_nor_an_address_is_exit_2(
        args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert st.main(args) == 2
    assert capsys.readouterr().err.startswith(f"status_tracker.py: error: {message}")


def test_a_reader_that_stops_early_ends_the_output_quietly() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "status_tracker", "--list-pages", "--json"],
                            cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as `| head -0` does: no reader before the first line is written
    # communicate waits on the pipe (select), not in sleeps, which faketime breaks.
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 141 and err == b""


def test_an_older_python_is_told_in_one_line_which_one_is_needed() -> None:
    # As Python 3.10 runs it: the version is made older before the script starts.
    older = ("import runpy, sys; sys.version_info = (3, 10, 13); sys.version = '3.10.13 x'; "
             f"runpy.run_path({str(HERE / 'status_tracker.py')!r}, run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", older], capture_output=True, text=True,
                          timeout=30, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (f"status_tracker.py: error: Python 3.11 or newer is needed; "
                           f"{sys.executable} is 3.10.13\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--feed", "nourl"], "unknown page 'nourl'; the nearest: "),
    (["--feed", "=https://a.test/feed"], "expected NAME=URL or NAME=PAGE"),
    (["--feed", "A=githb"], "unknown page 'githb'; the nearest: github, gitlab, goto"),
    (["--feed", "X=ftp://host/feed"], "not an http(s) URL"),
    (["--interval", "-1"], "argument --interval: expected a number >= 0.5, got -1"),
    (["--max-interval", "nan"], "argument --max-interval: expected a number >= 0, got nan"),
    (["--history", "many"], "argument --history: not a number: 'many'"),
    (["--per-host", "2.5"], "argument --per-host: expected a whole number >= 1, got 2.5"),
    (["--feed", "A=http://a.test/", "--feed", "A=http://b.test/"], "feed name 'A' is used twice"),
    (["--feed", "A=http://a.test/x", "--feed", "B=HTTP://A.TEST:80/x"],
     "feeds 'A' and 'B' have the same URL"),
    (["--feed", "A=http://127.0.0.1:99999/feed"], "feed 'A': not a valid URL: bad port"),
    (["--feed", "A=http://127.0.0.1:0/feed"], "feed 'A': not a valid URL: port 0"),
    (["--feed", "A=http://exa mple.test/feed"], "contains spaces or control characters"),
    (["--feed", "A=http:///feed"], "feed 'A': not an http(s) URL: it has no host"),
    (["--interval", "0"], "expected a number >= 0.5, got 0"),
    (["--interval", "0.4"], "expected a number >= 0.5, got 0.4"),
    (["--webhook", "https://h.test:99999/TOKEN?key=SECRET"], "the value is not shown"),
    (["--webhook", "ftp://h.test/TOKEN"], "not an http(s) URL"),
    (["--component", " "], "a component name cannot be empty"),
])
def test_cli_rejects_bad_arguments_with_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        st.main(args)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and out == ""
    [line] = err.splitlines()
    assert line.startswith("status_tracker.py: error:") and message in line
    assert "TOKEN" not in line and "SECRET" not in line


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(("signum", "exit_code"), [
    (signal.SIGTERM, 0), (signal.SIGINT, 130), (getattr(signal, "SIGHUP", 1), 0)])
async def test_cli_reports_a_change_between_polls_and_stops_cleanly_on_a_signal(
        server: FeedServer, tmp_path: Path, signum: int, exit_code: int) -> None:
    gh_v1 = atom(statuspage_entry(1, "Git operations degraded", [INVESTIGATING]))
    server.routes["/openai"] = Route(body=atom(OPENAI_RESOLVED))
    server.routes["/github"] = Route(body=gh_v1, headers={"ETag": 'W/"gh1"'})
    # Sends half a body and then nothing: its request is still in flight at the signal, and
    # the 15 s read timeout is far beyond the 5 s this test waits for the exit.
    server.routes["/hang"] = Route(handler=slow_drip)
    state = tmp_path / "state.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "status_tracker.py"), "--interval", "0.5",
        "--state", str(state), "--feed", f"Hang={server.url('/hang')}",
        "--feed", f"OpenAI={server.url('/openai')}", "--feed", f"GitHub={server.url('/github')}",
        cwd=HERE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        err = await read_until(proc.stderr, "OpenAI: 1 incident, 0 active")
        assert "watching 3 feeds every 0.5s: Hang (" in err
        assert "waiting for changes: incidents open now are printed first" in err
        out = await read_until(proc.stdout, "Incident: Git operations degraded")
        await asyncio.wait_for(server.served_304.wait(), 10)
        server.routes["/openai"].body = atom(OPENAI_ACTIVE, OPENAI_RESOLVED)
        server.routes["/github"] = Route(
            body=atom(statuspage_entry(1, "Git operations degraded", [IDENTIFIED, INVESTIGATING],
                                       updated="2026-11-03T14:10:00Z")),
            headers={"ETag": 'W/"gh2"'})
        out += await read_until(proc.stdout, "Status:   Identified",
                                "Incident: Elevated error rates in ChatGPT")
        proc.send_signal(signum)
        _, rest_err = await asyncio.wait_for(proc.communicate(), 5)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    err += rest_err.decode()
    assert proc.returncode == exit_code
    assert "Traceback" not in err
    assert "Event:    New incident" in out and "Event:    Update" in out
    assert out.count("Incident: Elevated error rates in ChatGPT") == 1
    assert re.search(r"GitHub: \d+ polls, [1-9]\d* not modified \(304\)", err), err
    assert "Hang: 1 poll, 0 not modified (304), 0 bytes received" in err
    saved = json.loads(state.read_text())
    assert set(saved["feeds"]) == {server.url("/openai"), server.url("/github")}
    assert "https://status.openai.com//incidents/01KACTIVE" in saved["feeds"][
        server.url("/openai")]["incidents"]


async def test_cli_reports_each_new_step_and_incident_once_from_alternating_copies(
        server: FeedServer) -> None:
    # Two CDN edges: one still holds the copy before the incident moved on and a second one
    # opened. Each edge's copy differs in a comment, so every copy read is parsed again.
    sp_old = atom(statuspage_entry(1, "Actions slow", [INVESTIGATING],
                                   updated="2026-11-03T14:00:00Z"))
    sp_new = atom(statuspage_entry(2, "Pages down", [("Nov 3, 14:20 UTC", "Investigating",
                                                      "Pages fail to build.")],
                                   updated="2026-11-03T14:20:00Z"),
                  statuspage_entry(1, "Actions slow", [IDENTIFIED, INVESTIGATING],
                                   updated="2026-11-03T14:10:00Z"))
    io_old = atom(OPENAI_ACTIVE)
    io_new = atom(OPENAI_ACTIVE.replace("Investigating", "Monitoring").replace(
        "14:32:00.123Z", "14:50:00.000Z"))
    # Five reads each: old, new, old again and new again (each parsed), then one seen before.
    github = Alternating(sp_old, sp_new, sp_old + b"<!-- edge 2 -->", sp_new + b"<!-- 2 -->",
                         enough=5)
    openai = Alternating(io_old, io_new, io_old + b"<!-- edge 2 -->", io_new + b"<!-- 2 -->",
                         enough=5)
    server.routes["/github/history.atom"] = Route(handler=github)
    server.routes["/openai"] = Route(handler=openai)
    proc = await start_cli("--interval", "0.5", "--json",
                           "--feed", f"GitHub={server.url('/github/history.atom')}",
                           "--feed", f"OpenAI={server.url('/openai')}")
    try:
        await asyncio.wait_for(asyncio.gather(github.enough.wait(), openai.enough.wait()), 30)
        code, err = await stop_within(proc, signal.SIGTERM, 5)
        assert proc.stdout is not None
        out = (await proc.stdout.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0, err
    events = sorted((e["feed"], e["kind"], e["title"], e["status"])
                    for e in map(json.loads, out.splitlines()))
    assert events == [
        ("GitHub", "active", "Actions slow", "Investigating"),
        ("GitHub", "new", "Pages down", "Investigating"),
        ("GitHub", "updated", "Actions slow", "Identified"),
        ("OpenAI", "active", "Elevated error rates in ChatGPT", "Investigating"),
        ("OpenAI", "updated", "Elevated error rates in ChatGPT", "Monitoring")]
    assert re.search(r"GitHub: [56] polls, .* 4 parses, 3 events", err), err


class ForwardProxy:
    """A few lines of HTTP forward proxy on 127.0.0.1: it answers each request for an absolute
    URL by making it itself; with `credentials` ("user:password"), a request without them in
    its Proxy-Authorization gets 407, as a company proxy answers (or `refusal`: tinyproxy
    answers 401)."""

    def __init__(self, credentials: str | None = None, refusal: int = 407) -> None:
        self.credentials = credentials
        self.refusal = refusal
        self.seen: list[tuple[str, str, str | None]] = []  # method, URL, Proxy-Authorization
        self.server = FeedServer()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Proxy-Authorization")
        self.seen.append((request.method, str(request.url), auth))
        if self.credentials and auth != "Basic " + base64.b64encode(
                self.credentials.encode()).decode():
            return web.Response(status=self.refusal,
                                headers={"Proxy-Authenticate": 'Basic realm="x"'})
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "proxy-authorization", "content-length")}
        async with aiohttp.ClientSession() as session, session.request(
                request.method, request.url, headers=headers, data=await request.read(),
                allow_redirects=False) as reply:
            body = await reply.read()
            kept = {k: v for k, v in reply.headers.items()
                    if k in ("Content-Type", "ETag", "Last-Modified", "Retry-After")}
            return web.Response(status=reply.status, body=body, headers=kept)

    async def __aenter__(self) -> ForwardProxy:
        self.server.handle = self.handle  # type: ignore[method-assign]  # every request
        await self.server.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.server.stop()


async def test_feeds_go_through_the_proxy_the_environment_names_with_its_credentials(
        server: FeedServer) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    server.routes["/direct"] = Route(body=atom(OPENAI_ACTIVE))
    server.routes["/flag"] = Route(body=atom(OPENAI_ACTIVE))
    async with ForwardProxy("ops:pa55w0rd") as proxy:
        with_password = proxy.url.replace("//", "//ops:pa55w0rd@")
        # Three runs at once: from the environment; no_proxy sending a host direct; --proxy
        # taking the place of what the environment says.
        (code, out, err), direct, flag = await asyncio.gather(
            run_cli("--once", "-v", "--feed", f"OpenAI={server.url('/openai')}",
                    env={"HTTP_PROXY": with_password}),
            run_cli("--once", "--feed", f"OpenAI={server.url('/direct')}",
                    env={"HTTP_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.1"}),
            run_cli("--once", "--proxy", with_password, "--feed",
                    f"OpenAI={server.url('/flag')}",
                    env={"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"}))
    assert code == 0 and "Incident: Elevated error rates in ChatGPT" in out, err
    assert sorted(proxy.seen) == [
        ("GET", server.url(path), "Basic " + base64.b64encode(b"ops:pa55w0rd").decode())
        for path in ("/flag", "/openai")]
    assert f"requests go through proxy {proxy.url} (from HTTP_PROXY)" in err
    assert "pa55w0rd" not in err and "ops:" not in err
    assert direct[0] == 0 and flag[0] == 0, direct[2] + flag[2]
    assert [p for p, _ in server.requests if p == "/direct"] == ["/direct"]


def test_proxy_variables_are_read_as_curl_and_pip_read_them() -> None:
    def proxy(**env: str) -> tuple[str | None, str | None]:
        proxies = st.Proxies(environ=env)
        return (proxies.for_url("http://status.example.test/feed"),
                proxies.for_url("https://status.example.test/feed"))

    assert proxy() == (None, None)
    assert proxy(http_proxy="http://a:1", HTTP_PROXY="http://b:2") == ("http://a:1", None)
    assert proxy(HTTPS_PROXY="b:2") == (None, "http://b:2")  # no scheme: http://
    assert proxy(ALL_PROXY="http://c:3", https_proxy="http://d:4") == (
        "http://c:3", "http://d:4")
    assert proxy(all_proxy="http://c:3", no_proxy=".example.test") == (None, None)
    assert proxy(HTTPS_PROXY="http://c:3", NO_PROXY="other.test") == (None, "http://c:3")
    explicit = st.Proxies("http://e:5", environ={"NO_PROXY": "*", "HTTP_PROXY": "http://a:1"})
    assert explicit.for_url("http://status.example.test/") == "http://e:5"


async def test_a_proxy_that_is_down_or_refuses_is_named_never_with_its_password(
        server: FeedServer) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    feed = f"OpenAI={server.url('/openai')}"
    async with ForwardProxy("ops:right") as proxy:
        (down, _, down_err), (refused, _, refused_err), (bad, _, bad_err) = await asyncio.gather(
            run_cli("--once", "--feed", feed, env={
                "HTTPS_PROXY": "http://ops:s3cret@127.0.0.1:9",
                "HTTP_PROXY": "http://ops:s3cret@127.0.0.1:9"}),
            run_cli("--once", "--feed", feed,
                    env={"HTTP_PROXY": proxy.url.replace("//", "//ops:wrong@")}),
            run_cli("--once", "--feed", feed,
                    env={"HTTP_PROXY": "http://ops:s3cret@127.0.0.1:99999"}))
    assert down == 1
    assert "OpenAI: cannot connect to proxy http://127.0.0.1:9: connection refused" in (
        down_err), down_err
    assert refused == 1
    assert (f"OpenAI: proxy {proxy.url} refused the request: HTTP 407 (proxy authentication "
            "required; check the user and password in the proxy URL)") in refused_err
    assert bad == 2 and bad_err == ("status_tracker.py: error: HTTP_PROXY: not a valid URL: "
                                    "bad port or brackets (the value is not shown: it may "
                                    "hold a password)\n")
    assert not any(word in down_err + refused_err + bad_err for word in ("s3cret", "wrong"))


async def test_an_error_status_through_a_proxy_names_the_proxy_beside_it(
        server: FeedServer) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    async with ForwardProxy("ops:right", refusal=401) as proxy:
        code, _, err = await run_cli("--once", "--feed", f"OpenAI={server.url('/openai')}",
                                     env={"HTTP_PROXY": proxy.url.replace("//", "//ops:no@")})
    assert code == 1
    assert f"OpenAI: HTTP 401 (through proxy {proxy.url})" in err, err
    assert "ops:no" not in err


def test_a_proxy_refusing_a_connect_tunnel_is_named_in_words() -> None:
    request = aiohttp.RequestInfo(yarl.URL("https://status.example.test/feed"), "CONNECT",
                                  multidict.CIMultiDictProxy(multidict.CIMultiDict()),
                                  yarl.URL("https://status.example.test/feed"))
    refused = aiohttp.ClientHttpProxyError(request, (), status=407,
                                           message="Proxy Authentication Required")
    assert st.connection_words(refused, "http://ops:pw@proxy.corp:3128") == (
        "proxy http://proxy.corp:3128 refused the connection: HTTP 407 (proxy authentication "
        "required)")


async def test_the_status_api_and_webhooks_go_through_the_proxy_too(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    url = statuspage_site(server, atom(statuspage_entry(1, "Actions degraded", [INVESTIGATING])),
                          api_body("incidents", ACTIONS_DOWN))
    receiver = Receiver()
    server.routes["/hook"] = Route(handler=receiver)
    async with ForwardProxy() as proxy:
        proxies = st.Proxies(environ={"https_proxy": "http://127.0.0.1:9",
                                      "http_proxy": proxy.url})
        spy = Spy()
        assert await monitor(session, url, spy, proxies=proxies).poll()
        sender = webhook_sender(server.url("/hook"), session, None, clock=FakeClock(),
                                  proxies=proxies)
        sender(spy.events[0])
        assert await sender.send_next() is None
    assert [(m, u.removeprefix(server.url(""))) for m, u, _ in proxy.seen] == [
        ("GET", "/history.atom"), ("GET", "/api/v2/scheduled-maintenances.json"),
        ("GET", "/api/v2/incidents.json"), ("POST", "/hook")]
    assert receiver.events() == [("active", "Actions degraded")]


@pytest.mark.parametrize(("no_proxy", "host", "port", "direct"), [
    ("*", "status.example.test", 443, True),
    ("example.test", "status.example.test", 443, True),
    (".example.test", "example.test", 443, True),
    ("example.test", "badexample.test", 443, False),
    ("10.0.0.0/8, 192.168.1.1", "10.2.3.4", 80, True),
    ("10.0.0.0/8", "11.2.3.4", 80, False),
    ("localhost:8080", "localhost", 8080, True),
    ("localhost:8080", "localhost", 80, False),
    ("[::1]:443", "::1", 443, True),
])
def test_no_proxy_reads_as_curl_reads_it(no_proxy: str, host: str, port: int,
                                         direct: bool) -> None:
    assert st.bypasses(no_proxy, host, port) is direct


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on Windows")
async def test_sighup_with_a_config_applies_it_without_a_restart(
        server: FeedServer, tmp_path: Path) -> None:
    receiver = Receiver()
    server.routes["/hook"] = Route(handler=receiver)
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    server.routes["/github"] = Route(body=atom(statuspage_entry(1, "Git down", [INVESTIGATING])))
    openai = f'[[feeds]]\nname = "OpenAI"\nurl = "{server.url("/openai")}"\n'
    github = f'[[feeds]]\nname = "GitHub"\nurl = "{server.url("/github")}"\napi = "off"\n'
    hook = f'[[notify]]\nurl = "{server.url("/hook")}"\n'
    config = write_config(tmp_path, "interval = 0.5\n" + openai)
    state = tmp_path / "state.json"
    proc = await start_cli("--config", str(config), "--state", str(state))
    assert proc.stdout is not None and proc.stderr is not None
    try:
        out = await read_until(proc.stdout, "Incident: Elevated error rates in ChatGPT")
        # A feed and a route added: the new feed starts with its first sight, the old one
        # says nothing again.
        config.write_text("interval = 0.5\n" + openai + github + hook)
        proc.send_signal(signal.SIGHUP)
        err = await read_until(proc.stderr, "reload: watching 2 feeds every 0.5s",
                               "1 feed started, 0 feeds stopped; 1 webhook started")
        out += await read_until(proc.stdout, "Incident: Git down")
        await wait_for_condition(lambda: receiver.events() == [("active", "Git down")], 10)
        # A config that no longer parses: one error naming the file, the old one stays.
        config.write_text("interval = [\n")
        proc.send_signal(signal.SIGHUP)
        err += await read_until(proc.stderr, "the configuration in use stays")
        # A feed removed: it is no longer polled, and its memory stays in the state file. A
        # setting only a start can change says so.
        config.write_text("interval = 0.5\nhistory_days = 7\n" + github)
        proc.send_signal(signal.SIGHUP)
        err += await read_until(proc.stderr, "0 feeds started, 1 feed stopped; 0 webhooks "
                                             "started, 1 webhook stopped")
        assert "reload: history_days takes effect at the next start, not now" in err
        polled = sum(1 for p, _ in server.requests if p == "/openai")
        await wait_for_condition(
            lambda: sum(1 for p, _ in server.requests if p == "/github") >= polled + 4, 10)
        assert sum(1 for p, _ in server.requests if p == "/openai") <= polled + 1
        code, rest = await stop_within(proc, signal.SIGTERM, 5)
        out += (await proc.stdout.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    err += rest
    assert code == 0, err
    assert out.count("Incident:") == 2 and "Traceback" not in err
    [bad] = [line for line in err.splitlines() if "ERROR" in line]
    assert bad.endswith(f"ERROR reload: {config}: not valid TOML: Invalid value (at end of "
                        "document); the configuration in use stays")
    assert set(json.loads(state.read_text())["feeds"]) == {server.url("/openai"),
                                                          server.url("/github")}


async def test_once_without_state_whose_webhook_is_unreachable_exits_1_and_says_why(
        server: FeedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    server.routes["/github"] = Route(body=atom())
    settings = service_settings(tmp_path, server, state=None, drain_seconds=0.5,
                                webhooks=["http://127.0.0.1:9/hook"])
    code, out = await run_once(settings)
    assert code == 1 and "Incident: Elevated error rates in ChatGPT" in out
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "webhook http://127.0.0.1:9/…: cannot connect to 127.0.0.1 port 9: connection " \
           "refused; will retry" in lines
    assert "webhook http://127.0.0.1:9/…: 1 event still queued and lost" in lines
    assert not [line for line in lines if line.rstrip().endswith(":") or "Error" in line]


# --- Reliability: every bad server, with a healthy feed polled alongside ---


async def slow_drip(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/atom+xml"})
    await response.prepare(request)
    await response.write(b"<?xml version='1.0'?><feed>")
    await asyncio.Event().wait()  # never sends another byte; cancelled when the client leaves
    return response


async def connection_reset(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.abort()
    return web.Response()


async def gzip_bomb(request: web.Request) -> web.StreamResponse:
    return web.Response(body=BOMB, headers={"Content-Encoding": "gzip",
                                            "Content-Type": "application/atom+xml"})


BOMB = gzip.compress(b"<feed>" + b" " * (8 * 1024 * 1024), compresslevel=9)
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>"
LAUGH_LEVELS = "".join(f'<!ENTITY {chr(98 + i)} "{f"&{chr(97 + i)};" * 10}">' for i in range(8))
BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaaaaaaaa">'
                  + LAUGH_LEVELS.encode()
                  + b']><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>x'
                    b"</id><title>&i;</title><updated>2026-11-03T14:00:00Z</updated></entry></feed>")
ESCAPES = atom(incidentio_entry("01KESC", "Pwned &#x1b;[2J title \u202e", "Investigating",
                                "ring&#7; \x1b]8;;http://evil.test\x07click\x1b]8;;\x07"))


async def moved(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently(location="/new-home")


def first_full_then_empty() -> Route:
    served = [atom(OPENAI_ACTIVE, OPENAI_RESOLVED)]

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=served.pop() if served else atom())

    return Route(handler=handler)


@dataclass
class BadCase:
    route: Route
    reason: str  # what the tracker says, once
    min_delay: float = 10.0  # the interval: backoff never polls sooner
    max_delay: float = 100.0  # --max-interval
    results: tuple[bool, ...] = (False, False, False)
    down: bool = True  # three failures make a feed_down event


BAD_CASES: dict[str, BadCase] = {
    "slow drip past the read timeout": BadCase(Route(handler=slow_drip), "timed out"),
    "connection reset": BadCase(Route(handler=connection_reset),
                                "the server closed the connection without answering"),
    "500": BadCase(Route(status=500, body=b"Internal Server Error"), "HTTP 500"),
    "500 with a huge error page (only its start is read)": BadCase(
        Route(status=500, body=b"<p>oops</p>" + b" " * (3 * 1024 * 1024)), "HTTP 500"),
    "429 with Retry-After seconds": BadCase(
        Route(status=429, headers={"Retry-After": "70"}), "HTTP 429", min_delay=70),
    "503 with Retry-After as a date past the ceiling": BadCase(
        Route(status=503, body=b"busy", headers={"Retry-After": "Tue, 03 Nov 2026 16:00:00 GMT"}),
        "HTTP 503", min_delay=100),
    "403 challenge page": BadCase(
        Route(status=403, body=HTML_PAGE, headers={"cf-mitigated": "challenge",
                                                   "Content-Type": "text/html"}),
        "blocked by bot protection (HTTP 403)"),
    "HTML with 200": BadCase(Route(body=HTML_PAGE, headers={"Content-Type": "text/html"}),
                             "not a feed: got an HTML page"),
    "empty 200": BadCase(Route(body=b""), "empty response"),
    "truncated XML": BadCase(Route(body=atom(OPENAI_ACTIVE, OPENAI_RESOLVED)[:-300]),
                             "malformed feed: the document is cut off before its end"),
    "gzip bomb": BadCase(Route(handler=gzip_bomb), "response larger than 1 MiB; abandoned"),
    "huge body": BadCase(Route(body=b"<feed>" + b" " * (2 * 1024 * 1024)),
                         "response larger than 1 MiB; abandoned"),
    "410": BadCase(Route(status=410), "gone (HTTP 410): the feed was removed; polling stopped"),
    "a feed that drops to zero entries": BadCase(
        first_full_then_empty(), "feed suddenly has no entries (had 2)",
        results=(True, False, False), down=False),
    # Not failures: the feed is read, and only what is said and scheduled is checked.
    "301 to a new address": BadCase(
        Route(handler=moved), "feed moved permanently to", min_delay=10, max_delay=10.5,
        results=(True, True, True), down=False),
    "entity-expansion payload": BadCase(Route(body=BILLION_LAUGHS), "", min_delay=10,
                                        max_delay=10.5, results=(True, True, True), down=False),
    "escape-sequence payload": BadCase(Route(body=ESCAPES), "", min_delay=10, max_delay=10.5,
                                       results=(True, True, True), down=False),
}


async def poll_pair(bad: st.StatusPageMonitor, healthy: st.StatusPageMonitor
                    ) -> st.PollResult:
    result, healthy_result = await asyncio.gather(bad.poll(), healthy.poll())
    assert healthy_result
    return result


@pytest.mark.parametrize("case_name", list(BAD_CASES))
async def test_a_bad_server_is_survived_reported_once_and_never_stops_a_healthy_feed(
        server: FeedServer, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture,
        case_name: str) -> None:
    case = BAD_CASES[case_name]
    server.routes["/bad"] = case.route
    server.routes["/new-home"] = Route(body=atom(OPENAI_RESOLVED))
    server.routes["/healthy"] = Route(body=atom(OPENAI_RESOLVED))
    bad_spy, healthy_spy = Spy(), Spy()
    timeout = aiohttp.ClientTimeout(total=5, sock_connect=2, sock_read=0.2)
    bad = monitor(session, server.url("/bad"), bad_spy, interval=10, max_interval=100,
                  max_body=1024 * 1024, timeout=timeout)
    healthy = monitor(session, server.url("/healthy"), healthy_spy)

    results = [await poll_pair(bad, healthy)]
    server.routes["/healthy"].body = atom(OPENAI_ACTIVE, OPENAI_RESOLVED)
    results += [await poll_pair(bad, healthy) for _ in range(2)]

    assert tuple(bool(r) for r in results) == case.results
    assert case.min_delay <= results[-1].delay <= case.max_delay
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno >= logging.WARNING and r.getMessage().startswith("Example: ")]
    if case.reason:
        assert len(warnings) == 1 and case.reason in warnings[0], warnings
    else:
        assert warnings == []
    downs = [(k, e) for k, e in bad_spy.kinds() if k == "feed_down"]
    assert downs == ([("feed_down", warnings[0].removeprefix("Example: "))] if case.down else [])
    if not case.results[0]:
        assert bad.state.known == {}  # a broken read never counts as "no incidents"
    printed = io.StringIO()
    for event in bad_spy.events:
        st.ConsolePrinter(printed)(event)
        printed.write(st.webhook_body("https://hooks.example.test/x", event))
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]",
                         printed.getvalue())
    assert healthy_spy.kinds() == [("new", "Elevated error rates in ChatGPT")]


async def test_a_permanent_redirect_is_followed_and_the_new_address_logged_once(
        server: FeedServer, session: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    async def moved(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently(location="/new-home?token=SECRET")

    server.routes["/old"] = Route(handler=moved)
    server.routes["/new-home"] = Route(body=atom(OPENAI_ACTIVE))
    spy = Spy()
    mon = monitor(session, server.url("/old"), spy)
    assert await mon.poll() and await mon.poll()
    assert mon.url == server.url("/new-home?token=SECRET")
    # The path is what the user must copy into the feed list; the query may be a token.
    assert caplog.text.count(f"feed moved permanently to {server.url('/new-home')};") == 1
    assert "SECRET" not in caplog.text
    assert [p for p, _ in server.requests] == ["/old", "/new-home", "/new-home"]
    assert spy.kinds() == [("active", "Elevated error rates in ChatGPT")]


async def test_a_temporary_redirect_keeps_the_configured_address(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    async def elsewhere(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(location="/today")

    server.routes["/feed"] = Route(handler=elsewhere)
    server.routes["/today"] = Route(body=atom(OPENAI_RESOLVED))
    mon = monitor(session, server.url("/feed"), Spy())
    assert await mon.poll() and mon.url == server.url("/feed")


async def test_a_feed_that_suddenly_loses_every_entry_is_an_error_until_it_persists(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    server.routes["/feed"] = Route(body=atom(OPENAI_ACTIVE, OPENAI_RESOLVED))
    spy = Spy()
    mon = monitor(session, server.url("/feed"), spy)
    assert await mon.poll()
    known = dict(mon.state.known)
    server.routes["/feed"].body = atom()
    assert [bool(await mon.poll()) for _ in range(3)] == [False, False, True]
    assert mon.state.known.keys() == known.keys()
    assert [k for k, _ in spy.kinds()] == ["active"]
    assert mon.failing_reason is None and mon.state.entries == 0


async def test_entity_expansion_and_escape_payloads_are_inert(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    server.routes["/laughs"] = Route(body=BILLION_LAUGHS)
    server.routes["/escapes"] = Route(body=ESCAPES)
    spy = Spy()
    laughs = monitor(session, server.url("/laughs"), spy, history=5)
    escapes = monitor(session, server.url("/escapes"), spy)
    assert await laughs.poll() and await escapes.poll()
    out = io.StringIO()
    for event in spy.events:
        st.ConsolePrinter(out)(event)
        out.write(st.webhook_body("https://hooks.example.test/x", event))
    text = out.getvalue()
    assert "aaaaaaaaaaaaaaaaaaaa" not in text
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
    assert "Incident: Pwned [2J title" in text and "Message:  ring click" in text


async def test_requests_per_host_are_limited_before_they_are_made(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    in_flight, peak, pair_arrived = 0, 0, asyncio.Event()

    async def counting(request: web.Request) -> web.StreamResponse:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight >= 2:
            pair_arrived.set()
        await pair_arrived.wait()  # the first two meet here; a third would find them waiting
        await asyncio.sleep(0)
        in_flight -= 1
        return web.Response(body=atom(OPENAI_RESOLVED))

    server.routes["/feed"] = Route(handler=counting)
    limiter = st.HostLimiter(per_host=2)
    monitors = [monitor(session, server.url("/feed"), Spy(), limiter=limiter) for _ in range(6)]
    assert all(await asyncio.gather(*(m.poll() for m in monitors)))
    assert len(monitors) == 6
    assert peak == 2


async def test_the_per_host_limit_holds_across_feeds_on_one_host_not_per_url(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    in_flight: dict[str, int] = {"127.0.0.1": 0, "localhost": 0}
    peak = dict(in_flight)
    met = asyncio.Event()

    async def counting(request: web.Request) -> web.StreamResponse:
        host = request.host.rsplit(":", 1)[0]
        in_flight[host] += 1
        peak[host] = max(peak[host], in_flight[host])
        if in_flight["127.0.0.1"] >= 2 and in_flight["localhost"] >= 2:
            met.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(met.wait(), 2)  # both hosts' pairs meet here
        in_flight[host] -= 1
        return web.Response(body=atom(OPENAI_RESOLVED))

    limiter = st.HostLimiter(per_host=2)
    monitors = []
    for i in range(4):
        server.routes[f"/feed{i}"] = Route(handler=counting)
        for host in ("127.0.0.1", "localhost"):
            url = f"http://{host}:{server.port}/feed{i}"
            monitors.append(monitor(session, url, Spy(), limiter=limiter))
    assert all(await asyncio.gather(*(m.poll() for m in monitors)))
    assert met.is_set() and peak == {"127.0.0.1": 2, "localhost": 2}


async def test_a_big_feed_is_parsed_off_the_event_loop_with_bounded_memory(
        server: FeedServer, session: aiohttp.ClientSession,
        monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [incidentio_entry(f"01K{n:06d}", f"Incident {n}", "Resolved", "x" * 200,
                                updated="2026-11-01T00:00:00.000Z") for n in range(3000)]
    body = atom(*entries)
    assert len(body) > 1_000_000
    server.routes["/big"] = Route(body=body)
    threads: list[int] = []
    real_parse = st.parse_feed

    def recording_parse(data: bytes) -> list[st.Incident]:
        threads.append(threading.get_ident())
        return real_parse(data)

    monkeypatch.setattr(st, "parse_feed", recording_parse)
    mon = monitor(session, server.url("/big"), Spy())
    assert await mon.poll()
    assert threads and threads[0] != threading.get_ident()
    assert mon.state.entries == st.MAX_ENTRIES and len(mon.state.known) == st.MAX_ENTRIES


# --- Running as a service: state file, restarts, webhooks, config ---


@dataclass
class Receiver:
    """Webhook receiver behaviour: answers from `statuses` in turn, then 200."""

    statuses: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    attempts: int = 0

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        self.attempts += 1
        status = self.statuses.pop(0) if self.statuses else 200
        body = await request.read()
        if status < 300:
            self.bodies.append(body)
            self.headers.append(dict(request.headers))
        return web.Response(status=status, text="nope: bad token" if status >= 400 else "ok",
                            headers={"Retry-After": "1"} if status == 429 else {})

    def events(self) -> list[tuple[str, str]]:
        return [(b["kind"], b["title"]) for b in map(json.loads, self.bodies)]


def service_settings(tmp_path: Path, server: FeedServer, **changes: Any) -> st.Settings:
    settings = st.Settings(feeds=[st.FeedConfig("OpenAI", server.url("/openai")),
                                  st.FeedConfig("GitHub", server.url("/github"))],
                           once=True, state=tmp_path / "state.json", drain_seconds=5)
    for key, value in changes.items():
        setattr(settings, key, value)
    return settings


async def run_once(settings: st.Settings) -> tuple[int, str]:
    out = io.StringIO()
    code = await st.run_tracker(settings, asyncio.Event(), clock=FixedWall(), stdout=out)
    return code, out.getvalue()


def by_feed(output: str) -> dict[str, list[tuple[str, str]]]:
    """(incident, status) per feed, in printed order; feeds poll concurrently."""
    found: dict[str, list[tuple[str, str]]] = {}
    for feed, title, status in re.findall(
            r"Product: (\w+).*\n.*\n  Incident: (.*)\n  Status: +(.*)", output):
        found.setdefault(feed, []).append((title, status))
    return found


async def test_restart_reports_nothing_twice_and_everything_missed_while_stopped(
        tmp_path: Path, server: FeedServer) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE, OPENAI_RESOLVED))
    server.routes["/github"] = Route(body=atom(statuspage_entry(1, "Actions slow",
                                                                [INVESTIGATING])),
                                     headers={"ETag": 'W/"1"'})
    settings = service_settings(tmp_path, server)
    code, out = await run_once(settings)
    assert code == 0
    assert by_feed(out) == {"GitHub": [("Actions slow", "Investigating")],
                            "OpenAI": [("Elevated error rates in ChatGPT", "Investigating")]}
    assert await run_once(settings) == (0, "")  # cron mode: nothing new, nothing printed

    # While stopped: a new OpenAI incident, and two Statuspage updates.
    server.routes["/openai"].body = atom(
        incidentio_entry("01KNEW", "Codex down", "Investigating", "Looking.",
                         updated="2026-11-03T16:00:00.000Z"), OPENAI_ACTIVE, OPENAI_RESOLVED)
    server.routes["/github"] = Route(
        body=atom(statuspage_entry(1, "Actions slow", [RESOLVED, IDENTIFIED, INVESTIGATING],
                                   updated="2026-11-03T14:32:00Z")), headers={"ETag": 'W/"2"'})
    code, out = await run_once(settings)
    assert code == 0
    assert by_feed(out) == {"GitHub": [("Actions slow", "Resolved")],
                            "OpenAI": [("Codex down", "Investigating")]}
    # The step missed between the two runs goes with the newest, under its message.
    assert ("  Message:  This incident has been resolved.\n"
            "  Earlier:  2026-11-03 14:10:00 UTC  Identified - The cause is a bad deploy.\n"
            "  Link:     https://status.example.test/incidents/code1\n") in out
    assert await run_once(settings) == (0, "")
    assert [h.get("If-None-Match") for p, h in server.requests if p == "/github"] == [
        None, 'W/"1"', 'W/"1"', 'W/"2"']


async def test_every_save_in_a_long_run_writes_the_latest_state_of_each_feed(
        tmp_path: Path) -> None:
    store = st.StateStore(tmp_path / "state.json", clock=FakeClock())
    other = "https://other.test/feed"
    put(store, other, first_sight=False)
    with aioresponses() as mock:
        mock.get(FEED_URL, body=atom(OPENAI_RESOLVED))
        mock.get(FEED_URL, body=atom(OPENAI_ACTIVE, OPENAI_RESOLVED))
        async with aiohttp.ClientSession() as session:
            mon = monitor(session, FEED_URL, Spy(), state=store.feed(FEED_URL), store=store)
            assert await mon.poll()
            first = json.loads(store.path.read_text())
            assert await mon.poll()
    second = json.loads(store.path.read_text())
    assert list(first["feeds"][FEED_URL]["incidents"]) == [
        "https://status.openai.com//incidents/01KOLD"]
    assert sorted(second["feeds"][FEED_URL]["incidents"]) == [
        "https://status.openai.com//incidents/01KACTIVE",
        "https://status.openai.com//incidents/01KOLD"]
    assert set(second["feeds"]) == {FEED_URL, other}
    reloaded = st.StateStore(store.path, clock=FakeClock())
    reloaded.load()
    assert reloaded.feeds[FEED_URL].known == store.feeds[FEED_URL].known


def put(store: st.StateStore, url: str, *, polled: datetime | None = NOW, **fields: Any
        ) -> st.FeedState:
    """A feed's new state in the store, as a poll hands it over (read at `polled`)."""
    state = dataclasses.replace(store.feed(url), **fields)
    store.put(url, state)
    if polled is not None:
        store.polled_at(url, polled)
    return state


def unwritten_text(store: st.StateStore) -> str:
    """The next version of a state file never written yet: every piece is encoded text."""
    pieces, _ = store.pieces(NOW)
    assert all(isinstance(p, str) for p in pieces)
    return "".join(str(p) for p in pieces)


def test_digests_and_step_keys_of_any_shape_come_back_from_the_state_file_as_written(
        tmp_path: Path) -> None:
    store = st.StateStore(tmp_path / "state.json", clock=FakeClock())
    feed = put(store, FEED_URL, first_sight=False, known={
        "packed": st.Seen(NOW, "0123456789abcdef", ("fedcba9876543210", "0000000000000001"),
                          NOW),
        "no steps": st.Seen(None, "0123456789abcdef", (), NOW),
        "by hand": st.Seen(NOW, "D1", ("0123456789ABCDEF", "step"), NOW),
    })
    written = json.loads(unwritten_text(store))["feeds"][FEED_URL]["incidents"]
    assert written["packed"][1:3] == ["0123456789abcdef", ["fedcba9876543210", "0000000000000001"]]
    assert written["by hand"][1:3] == ["D1", ["0123456789ABCDEF", "step"]]
    st.write_atomic(store.path, store.pieces(NOW)[0])
    reloaded = st.StateStore(store.path, clock=FakeClock())
    reloaded.load()
    assert reloaded.feeds[FEED_URL].known == feed.known
    assert reloaded.feeds[FEED_URL].known["packed"].steps == ("fedcba9876543210",
                                                              "0000000000000001")
    assert reloaded.feeds[FEED_URL].known["by hand"].digest == "D1"


def test_an_incidents_time_is_packed_with_its_digest_and_comes_back_the_same(
        tmp_path: Path) -> None:
    plus_two = timezone(timedelta(hours=2))
    times = [None, NOW, NOW.replace(microsecond=123456), datetime(1969, 7, 20, 20, 17, tzinfo=UTC),
             datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
             datetime(2026, 11, 3, 17, 0, tzinfo=plus_two)]
    for when in times:
        seen = st.Seen(when, "0123456789abcdef", ("fedcba9876543210",), NOW)
        # 8 bytes each of time, digest and step: no datetime object kept per incident.
        assert isinstance(seen._packed, bytes) and len(seen._packed) == 24
        assert seen.updated == when and seen.digest == "0123456789abcdef"
        assert seen.steps == ("fedcba9876543210",)
    # The same moment in another zone is the same time; a time without a zone stays as it came.
    assert st.Seen(times[-1], "0123456789abcdef", (), NOW) == st.Seen(
        datetime(2026, 11, 3, 15, 0, tzinfo=UTC), "0123456789abcdef", (), NOW)
    naive = datetime(2026, 11, 3, 15, 0)
    assert st.Seen(naive, "0123456789abcdef", (), NOW).updated is naive
    # At the edges of the range another zone can put a time outside it in UTC: kept as it came.
    for edge in (datetime(1, 1, 1, tzinfo=plus_two),
                 datetime.max.replace(tzinfo=timezone(timedelta(hours=-1)))):
        assert st.Seen(edge, "0123456789abcdef", (), NOW).updated is edge
    assert st.Seen(NOW, "0123456789abcdef", (), NOW) != st.Seen(
        NOW + timedelta(microseconds=1), "0123456789abcdef", (), NOW)

    # What the state file writes is read from the packed bytes: the same as from a datetime.
    rng = random.Random(8)
    samples = times + [naive] + [
        datetime(1, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(3 * 10**17))
        for _ in range(20_000)] + [NOW + timedelta(seconds=rng.randrange(10**6)) for _ in range(99)]
    for when in samples:
        epoch = st.Seen(when, "0123456789abcdef", (), NOW).updated_epoch()
        assert epoch == st._epoch(when) and type(epoch) is type(st._epoch(when)), when

    store = st.StateStore(tmp_path / "state.json", clock=FakeClock())
    feed = put(store, FEED_URL, first_sight=False, known={
        f"i{n}": st.Seen(when, f"{n:016x}", (), NOW) for n, when in enumerate(times[:4])})
    st.write_atomic(store.path, store.pieces(NOW)[0])
    reloaded = st.StateStore(store.path, clock=FakeClock())
    reloaded.load()
    assert reloaded.feeds[FEED_URL].known == feed.known
    assert [s.updated for s in reloaded.feeds[FEED_URL].known.values()] == times[:4]


def saved_store(path: Path, feeds: int, title: str = "incident") -> st.StateStore:
    store = st.StateStore(path, clock=FakeClock())
    for i in range(feeds):
        put(store, f"https://f{i}.test/feed", first_sight=False, etag=f'"v{i}"',
            known={f"{title}-{i}": st.Seen(NOW, f"{i:016x}", (), NOW)})
    st.write_atomic(path, store.pieces(NOW)[0])
    loaded = st.StateStore(path, clock=FakeClock())
    loaded.load()
    return loaded


async def test_with_spacing_a_monitors_save_waits_after_a_write_and_any_other_save_ends_it(
        tmp_path: Path) -> None:
    clock = FakeClock(mono=100.0)
    writes: list[str] = []

    def write(path: Path, pieces: Sequence[str | st.Span]) -> list[int]:
        clock.mono += 1.0  # each write takes a second
        offsets = st.write_atomic(path, pieces)
        writes.append(json.loads(path.read_text())["feeds"][url]["etag"])
        return offsets

    async def change(etag: str) -> None:
        new = dataclasses.replace(store.feed(url), etag=etag)
        await asyncio.wait_for(store.changed(url, new), 5)  # never waits for the write

    async def written() -> list[bool]:
        return list(await asyncio.wait_for(asyncio.gather(*store._paced), 5))

    url = "https://f1.test/feed"
    store = st.StateStore(tmp_path / "state.json", clock=clock, write=write,
                          spacing=9.0)
    put(store, url, first_sight=False)
    await change('"a"')
    assert await written() == [True] and writes == ['"a"']  # the first: at once
    clock.mono += 0.5
    # The next waits: 9 s after a write of 1 s, and only half a second has passed. Changes
    # that come meanwhile go with it.
    for etag in ('"b"', '"c"', '"d"'):
        await change(etag)
    for _ in range(5):
        await asyncio.sleep(0)
    assert writes == ['"a"'] and len(store._paced) == 3
    # Any other save (a webhook's outbox) ends the wait: one write for all of them.
    assert await asyncio.wait_for(store.save(), 5)
    assert await written() == [] and writes == ['"a"', '"d"']
    # Once the spacing has passed, a change is written at once.
    clock.mono += 9.0
    await change('"e"')
    assert await written() == [True] and writes == ['"a"', '"d"', '"e"']
    # The last save before exit writes what still waits, and what waited ends with it.
    await change('"f"')
    assert len(store._paced) == 1
    assert await asyncio.wait_for(store.flush(), 5)
    assert writes == ['"a"', '"d"', '"e"', '"f"'] and not store._paced


async def test_without_spacing_every_save_writes_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    writes: list[int] = []

    def write(path: Path, pieces: Sequence[str | st.Span]) -> list[int]:
        clock.mono += 10.0  # slow writes: any spacing would make the next wait for minutes
        writes.append(len(writes))
        return st.write_atomic(path, pieces)

    store = st.StateStore(tmp_path / "state.json", clock=clock, write=write)
    for _ in range(3):
        assert await asyncio.wait_for(store.save(), 5)
    assert writes == [0, 1, 2]


async def test_a_save_encodes_only_the_feeds_that_changed_and_copies_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = saved_store(tmp_path / "state.json", 50)
    encoded: list[str] = []
    real = st._feed_to_json

    def counting(state: st.FeedState) -> dict[str, Any]:
        encoded.append(state.etag or "")
        return real(state)

    monkeypatch.setattr(st, "_feed_to_json", counting)
    url = "https://f7.test/feed"
    await store.changed(url, dataclasses.replace(store.feed(url), etag='"changed"'))
    assert encoded == ['"changed"']
    reread = st.StateStore(store.path, clock=FakeClock())
    reread.load()
    assert reread.feeds == store.feeds  # everything else copied exactly as it was
    encoded.clear()
    assert await store.save(now=True) and encoded == []  # nothing changed: all copied


async def test_a_feed_changed_while_the_file_is_written_goes_with_the_next_write(
        tmp_path: Path) -> None:
    store = saved_store(tmp_path / "state.json", 3)
    url = "https://f1.test/feed"

    def write_while_changing(path: Path, pieces: Sequence[str | st.Span]) -> list[int]:
        offsets = st.write_atomic(path, pieces)
        put(store, url, etag='"during"')  # a poll that ended while the thread wrote
        return offsets

    store._write = write_while_changing
    put(store, "https://f0.test/feed")
    assert await store.save(now=True)
    store._write = st.write_atomic
    assert await store.save(now=True)
    reread = st.StateStore(store.path, clock=FakeClock())
    reread.load()
    assert reread.feeds[url].etag == '"during"'


async def test_a_state_file_deleted_or_replaced_while_running_is_written_whole_again(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store = saved_store(tmp_path / "state.json", 5)
    store.path.unlink()  # someone cleaning up
    await store.changed("https://f1.test/feed", store.feed("https://f1.test/feed"))
    reread = st.StateStore(store.path, clock=FakeClock())
    reread.load()
    assert reread.feeds == store.feeds
    assert "was changed by something else; writing it whole" in caplog.text
    # Replaced by a file of another layout that looks unchanged from outside (same size and
    # time): the copied bytes are checked, and the file is written whole instead.
    store.path.write_text(" " * store.path.stat().st_size)
    monkeypatch.setattr(st, "file_identity", lambda _path: store._identity)
    await store.changed("https://f2.test/feed", store.feed("https://f2.test/feed"))
    reread.load()
    assert reread.feeds == store.feeds
    assert "changed since it was last read; writing it whole" in caplog.text


def copy_members(path: Path, layout: str, copy_chunk: int, monkeypatch: pytest.MonkeyPatch
                 ) -> tuple[bytes, list[int], int, st.StateStore]:
    """Save a 30-feed file with three feeds changed, unchanged members copied from the file
    on disk in runs of up to `copy_chunk` bytes: the bytes, the offsets, the reads it took."""
    store_with_everything(path, 30)
    if layout != "ours":  # laid out by hand: other bytes between members than ours
        path.write_text(json.dumps(json.loads(path.read_text()),
                                   indent=1 if layout == "indented" else None))
    store = st.StateStore(path, clock=FakeClock())
    store.load()
    assert len(store._spans) == 30
    for url in ("https://f0.test/feed", "https://f11.test/feed", "https://f12.test/feed"):
        put(store, url, etag='"changed"')  # a run of copied members ends at each
    monkeypatch.setattr(st, "COPY_CHUNK", copy_chunk)
    reads: list[int] = []
    real_open = Path.open

    def counting_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, *args, **kwargs)
        if self == path and args and args[0] == "rb":
            read = handle.read

            def counted(size: int = -1) -> bytes:
                reads.append(size)
                return bytes(read(size))

            handle.read = counted
        return handle

    with monkeypatch.context() as patched:
        patched.setattr(Path, "open", counting_open)
        offsets = st.write_atomic(path, store.pieces(NOW)[0])
    return path.read_bytes(), offsets, len(reads), store


@pytest.mark.parametrize("layout", ["ours", "spaced", "indented"])
def test_members_copied_in_runs_give_the_bytes_of_copying_them_one_by_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str) -> None:
    # COPY_CHUNK 0: every member read and written on its own, as the file was always written.
    one_by_one, offsets, reads, store = copy_members(tmp_path / "a.json", layout, 0,
                                                     monkeypatch)
    assert reads == 27  # the 30 members but the three changed
    if layout == "ours":  # and those are the bytes of encoding every feed again
        store._spans = {}
        pieces = store.pieces(NOW)[0]
        assert one_by_one == "".join(str(p) for p in pieces).encode()
    for chunk in (1, 300, 1 << 20):
        copied, run_offsets, run_reads, _ = copy_members(tmp_path / f"{chunk}.json", layout,
                                                         chunk, monkeypatch)
        assert (copied, run_offsets) == (one_by_one, offsets), chunk
        if layout == "ours" and chunk == 1 << 20:
            assert run_reads == 2  # the members between the changed feeds, one run each
        elif layout != "ours" or chunk == 1:
            assert run_reads == 27  # nothing lies back to back, or nothing fits: one by one


def test_a_run_whose_bytes_between_members_are_not_the_separator_is_not_copied(
        tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b'{"a":{},"b":{}}')
    first, second = st.Span(1, 6), st.Span(8, 6)  # '"a":{}' and '"b":{}'
    st.write_atomic(path, ["{", first, ",", second, "}"])
    assert path.read_bytes() == b'{"a":{},"b":{}}'
    with pytest.raises(st.StaleSpans, match="changed since it was last read"):
        st.write_atomic(path, ["{", first, ";", second, "}"])
    assert path.read_bytes() == b'{"a":{},"b":{}}'  # the file as it was; no temp file left
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


async def test_a_state_file_with_non_ascii_text_is_encoded_whole_at_its_first_save(
        tmp_path: Path) -> None:
    store = saved_store(tmp_path / "state.json", 3, title="störung")
    url = "https://f2.test/feed"
    await store.changed(url, dataclasses.replace(store.feed(url), etag='"new"'))
    reread = st.StateStore(store.path, clock=FakeClock())
    reread.load()
    assert reread.feeds == store.feeds and "störung-0" in reread.feeds["https://f0.test/feed"].known


def store_with_everything(path: Path, feeds: int, title: str = "incident") -> st.StateStore:
    """A saved store with feeds, an outbox and held events, as a long run leaves one."""
    store = saved_store(path, feeds, title)
    event = st.IncidentEvent("OpenAI", st.Kind.NEW, incident(title=f"Held {title}"))
    store.outbox("https://hook.test/a").queued.append(st.Queued("e1", '{"text":"x"}'))
    held = store.outbox("https://hook.test/b")
    held.held, held.held_since = [event], NOW - timedelta(seconds=0.5)
    put(store, "https://f1.test/feed", failures=12345, entries=678901)  # numbers a chunk may cut
    st.write_atomic(path, store.pieces(NOW)[0])
    store = st.StateStore(path, clock=FakeClock())  # with the spans of the file as now written
    store.load()
    return store


def loaded_with_chunk(path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
                      ) -> st.StateStore:
    monkeypatch.setattr(st, "STATE_CHUNK", chunk)
    store = st.StateStore(path, clock=FakeClock())
    store.load()
    return store


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_a_state_file_read_in_small_chunks_loads_exactly_as_read_in_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    path = tmp_path / "state.json"
    store_with_everything(path, 40)
    whole = loaded_with_chunk(path, 1 << 30, monkeypatch)
    assert len(whole.feeds) == 40 and len(whole._spans) == 40 and len(whole.outboxes) == 2
    assert whole.feeds["https://f1.test/feed"].failures == 12345
    small = loaded_with_chunk(path, chunk, monkeypatch)
    assert small.feeds == whole.feeds and small._spans == whole._spans
    assert small.outboxes == whole.outboxes
    content = path.read_bytes()  # each span is its member's bytes in the file
    span = small._spans["https://f3.test/feed"]
    assert content[span.start:span.start + span.length].startswith(b'"https://f3.test/feed":{')


def test_a_number_cut_by_the_end_of_a_chunk_is_read_whole() -> None:
    text = b'{"version":1,"a":12345,"b":1.5e3,"c":-0.25,"d":[7],"e":true}'
    for chunk in range(1, len(text) + 1):  # every place the first chunk can end
        window = st._Window(io.BytesIO(text).read, b"", chunk)
        data, feeds = st._read_state(window, lambda f: st.FeedState())
        assert data == json.loads(text) and feeds is None, chunk
    # The version is a number too: "10" cut to "1" would pass for this program's own.
    newer = b'{"version":10,"feeds":{}}'
    for chunk in range(1, len(newer) + 1):
        with pytest.raises(st.NewerStateError, match="format version 10; this one reads 1"):
            st._read_state(st._Window(io.BytesIO(newer).read, b"", chunk),
                           lambda f: st.FeedState())


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_a_state_file_with_non_ascii_text_anywhere_gives_no_spans_but_the_same_feeds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    path = tmp_path / "state.json"
    ascii_only = store_with_everything(path, 20)
    # Only the last member is not ASCII: the spans taken before it was read are dropped too.
    put(ascii_only, "https://f19.test/feed", known={"störung": st.Seen(NOW, "d", (), NOW)})
    st.write_atomic(path, ascii_only.pieces(NOW)[0])
    content = path.read_bytes()
    assert content[:content.index(b'"https://f19.test/feed"')].isascii()
    store = loaded_with_chunk(path, chunk, monkeypatch)
    assert store.feeds == ascii_only.feeds and store._spans == {}
    assert store.outboxes == ascii_only.outboxes


@pytest.mark.parametrize("indent", [None, 1])
def test_a_syntax_error_deep_in_a_state_file_sets_it_aside_with_where_it_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        indent: int | None) -> None:
    path = tmp_path / "state.json"
    store_with_everything(path, 40)
    text = json.dumps(json.loads(path.read_text()), indent=indent)
    cut = text.index('"https://f37.test/feed"')
    text = text[:cut - 1].rstrip(", \n") + ";" + text[cut - 1:]  # no comma, a stray ';'
    path.write_text(text)
    with pytest.raises(json.JSONDecodeError) as want:
        json.loads(text)
    assert ("line 1 " in str(want.value)) == (indent is None)  # the line is counted, too
    loaded_with_chunk(path, 7, monkeypatch)
    [aside] = [p for p in tmp_path.iterdir() if p.name.startswith("state.json.bad-")]
    assert aside.read_text() == text and not path.exists()
    assert f"state file {path} is unusable ({want.value})" in caplog.text


@pytest.mark.parametrize("into", [10, 60])  # cut in its URL, and in its state
@pytest.mark.parametrize("chunk", [7, 1 << 20])
def test_a_state_file_cut_short_in_the_middle_of_a_member_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        into: int, chunk: int) -> None:
    path = tmp_path / "state.json"
    store_with_everything(path, 40)
    content = path.read_bytes()
    cut = content[:content.index(b'"https://f30.test/feed"') + into]  # a disk that filled up
    path.write_bytes(cut)
    with pytest.raises(json.JSONDecodeError) as want:
        json.loads(cut)
    store = loaded_with_chunk(path, chunk, monkeypatch)
    assert store.feeds == {} and store._spans == {}
    assert f"is unusable ({want.value})" in caplog.text
    [aside] = [p for p in tmp_path.iterdir() if p.name.startswith("state.json.bad-")]
    with pytest.raises(st.StateFileError, match="unusable"):  # the board renames nothing
        st.StateStore(aside, clock=FakeClock()).load(read_only=True)
    assert aside.read_bytes() == cut


def test_a_feed_no_longer_polled_for_30_days_leaves_the_state_file(tmp_path: Path) -> None:
    store = st.StateStore(tmp_path / "state.json", clock=FakeClock())
    for url, days in (("https://kept.test/feed", 29), ("https://gone.test/feed", 31)):
        put(store, url, first_sight=False, polled=NOW - timedelta(days=days))
    put(store, "https://never-read.test/feed")
    saved = json.loads(unwritten_text(store))
    assert list(saved["feeds"]) == ["https://kept.test/feed"]


async def test_a_feed_added_since_the_last_run_is_treated_as_first_sight(
        tmp_path: Path, server: FeedServer) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_RESOLVED))
    server.routes["/github"] = Route(body=atom(statuspage_entry(1, "Old", [RESOLVED])))
    settings = service_settings(tmp_path, server)
    settings.feeds = settings.feeds[:1]
    assert await run_once(settings) == (0, "")
    settings.feeds.append(st.FeedConfig("GitHub", server.url("/github")))
    assert await run_once(settings) == (0, "")  # first sight of GitHub: resolved = silent


async def test_a_crash_between_temp_file_and_rename_leaves_the_old_state_intact(
        tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    st.write_atomic(path, '{"version": 1, "feeds": {}}')

    def crash(src: str, dst: Path) -> None:
        raise KeyboardInterrupt  # the process dies right here

    with pytest.raises(KeyboardInterrupt):
        st.write_atomic(path, '{"version": 1, "feeds": {"new": 1}}', replace=crash)
    assert path.read_text() == '{"version": 1, "feeds": {}}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    if sys.platform != "win32":
        assert path.stat().st_mode & 0o777 == 0o600  # webhook URLs in it carry tokens
    (tmp_path / ".state.json.abc.tmp").write_text("half")  # as a hard crash would leave it
    st.StateStore(path, clock=FakeClock()).load()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


@pytest.mark.parametrize(("content", "why"), [
    ('{"version":1,"feeds":{', "Expecting property name"),  # ours, cut short
    ('{"version": 1, "feeds": {"u": {"incidents": 3}}}', "AttributeError"),
    ('{"version": "one"}', "not a status_tracker state file"),
])
async def test_a_bad_state_file_is_kept_aside_and_the_tracker_starts_afresh(
        tmp_path: Path, server: FeedServer, caplog: pytest.LogCaptureFixture,
        content: str, why: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    server.routes["/github"] = Route(body=atom())
    code, out = await run_once(service_settings(tmp_path, server))
    assert code == 0 and "Ongoing (open when watching started)" in out
    [aside] = [p for p in tmp_path.iterdir() if p.name.startswith("state.json.bad-")]
    assert aside.read_text() == content
    assert f"state file {path} is unusable" in caplog.text and str(aside) in caplog.text
    assert why in caplog.text or why == "AttributeError"
    assert json.loads(path.read_text())["version"] == st.STATE_VERSION


def test_a_state_file_of_a_newer_version_is_refused_with_exit_2_and_left_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "state.json"
    newer = '{"version": 99, "feeds": {}, "outbox": {"https://h.test/x": [{"event_id": "e"}]}}'
    path.write_text(newer)
    code = st.main(["--once", "--state", str(path), "--feed", "A=http://127.0.0.1:9/feed"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err == (f"status_tracker.py: error: state file {path}: written by a newer "
                   "status_tracker (format version 99; this one reads 1); left as it is "
                   "(upgrade status_tracker, or give another --state)\n")
    assert path.read_text() == newer and sorted(p.name for p in tmp_path.iterdir()) == [
        "state.json", "state.json.lock"]


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
async def test_a_state_path_that_is_a_symlink_stays_one_and_its_target_is_written(
        tmp_path: Path, server: FeedServer) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "state.json"
    link = tmp_path / "state.json"
    link.symlink_to(target)  # dangling until the first save
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    server.routes["/github"] = Route(body=atom())
    settings = service_settings(tmp_path, server, state=link)
    assert (await run_once(settings))[0] == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["version"] == st.STATE_VERSION
    # The history lives beside the file the state is written to, not beside the link.
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == [
        "state.history.sqlite3", "state.json", "state.json.lock"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real", "state.json"]
    assert await run_once(settings) == (0, "")  # read back through the link: nothing new
    assert link.is_symlink()


async def test_a_second_process_on_the_same_state_file_refuses_to_start(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "state.json"
    owner = st.StateStore(path, clock=FakeClock())
    owner.lock.acquire()
    try:
        with pytest.raises(st.StateLockedError):
            st.StateStore(path, clock=FakeClock()).lock.acquire()
        code = await asyncio.to_thread(st.main, ["--once", "--state", str(path), "--feed",
                                                  "X=http://127.0.0.1:9/feed"])
    finally:
        owner.lock.release()
    assert code == 2
    assert f"status_tracker.py: error: state file {path} is in use by another status_tracker" \
        in capsys.readouterr().err
    st.StateStore(path, clock=FakeClock()).lock.acquire()  # free again once the owner let go


async def test_a_deleted_lock_file_is_taken_again_or_writing_stops_loudly(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.json"
    first = st.StateStore(path, clock=FakeClock())
    first.lock.acquire()
    put(first, "https://a.test/feed", first_sight=False, polled=None)
    first.lock.lock_path.unlink()
    await first.save()  # nobody else took it: this process locks a new file and writes
    assert "was removed while running; took it again" in caplog.text
    assert json.loads(path.read_text())["feeds"] == {
        "https://a.test/feed": {"etag": None, "last_modified": None, "fingerprint": None,
                                "entries": 0, "incidents": {}}}
    first.lock.lock_path.unlink()
    second = st.StateStore(path, clock=FakeClock())
    second.lock.acquire()  # a second tracker started in the gap
    before = path.read_text()
    put(first, "https://b.test/feed", first_sight=False, polled=None)
    await first.save()
    await first.save()
    assert path.read_text() == before
    [record] = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "another status_tracker took" in record.getMessage()
    second.lock.release()
    first.lock.release()


def test_the_windows_lock_path_refuses_a_second_owner(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """msvcrt only exists on Windows: a stand-in with its semantics (a locked byte range
    refuses another handle) exercises the branch here."""
    held: set[tuple[int, int]] = set()

    class FakeMsvcrt(types.ModuleType):
        LK_NBLCK = 2

        def locking(self, fd: int, mode: int, nbytes: int) -> None:
            info = os.fstat(fd)
            if mode != self.LK_NBLCK or nbytes != 1 or (info.st_dev, info.st_ino) in held:
                raise OSError(36, "Resource deadlock avoided")
            held.add((info.st_dev, info.st_ino))

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "msvcrt", FakeMsvcrt("msvcrt"))
    first = st.StateStore(tmp_path / "s.json", clock=FakeClock())
    second = st.StateStore(tmp_path / "s.json", clock=FakeClock())
    first.lock.acquire()
    with pytest.raises(st.StateLockedError, match="is in use by another status_tracker"):
        second.lock.acquire()
    first.lock.release()


@pytest.mark.skipif(sys.platform == "win32", reason="sends itself a POSIX SIGTERM")
async def test_sigterm_still_stops_the_tracker_without_loop_signal_handlers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows' event loops have no add_signal_handler: SIGTERM then goes through
    signal.signal and is handed to the loop thread-safely."""
    loop = asyncio.get_running_loop()

    def unsupported(*args: Any) -> None:
        raise NotImplementedError

    monkeypatch.setattr(loop, "add_signal_handler", unsupported)
    before = signal.getsignal(signal.SIGTERM)
    stop, interrupted = asyncio.Event(), list[bool]()
    undo = st._install_signal_handlers(stop, interrupted)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 5)
    finally:
        undo()
    assert interrupted == [] and signal.getsignal(signal.SIGTERM) == before


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_late_ctrl_c_during_shutdown_is_absorbed_and_main_restores_the_default() -> None:
    """A second Ctrl+C while asyncio.run closes the loop once interrupted loop.close() and
    left a half-closed loop that printed a traceback when collected."""
    try:
        st._absorb_late_interrupts()
        os.kill(os.getpid(), signal.SIGINT)  # would raise KeyboardInterrupt here otherwise
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert st.main(["--once", "--feed", "X=http://127.0.0.1:9/feed"]) == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize(("url", "label"), [
    ("https://hooks.slack.com/services/T0/B0/SECRET", "Earlier:"),
    ("https://discord.com/api/webhooks/1/SECRET", "**Earlier**"),
    ("https://prod-1.westeurope.logic.azure.com/workflows/1/triggers/manual/paths/invoke",
     "Earlier:"),
    ("https://ntfy.sh/alerts", None), ("https://example.test/hook", None)])
def test_steps_found_together_are_all_in_every_chat_format_earlier_ones_labelled(
        url: str, label: str | None) -> None:
    at = NOW - timedelta(minutes=30)
    steps = (st.Step("Investigating", "We are looking.", at, "a"),
             st.Step("Identified", "Found the cause.", at + timedelta(minutes=10), "b"),
             st.Step("Resolved", "All fixed.", at + timedelta(minutes=20), "c"))
    event = st.IncidentEvent("GitHub", st.Kind.UPDATED, incident(
        status="Resolved", message="All fixed.", steps=steps, updated=steps[-1].at))
    body = json.dumps(json.loads(st.webhook_body(url, event)), ensure_ascii=False)
    assert "All fixed." in body
    if label is None:  # ntfy and plain JSON: the steps are data, not lines
        return
    assert label in body
    assert body.index(label) < body.index("Investigating - We are looking.") < body.index(
        "Identified - Found the cause.")


def test_webhook_payloads_are_shaped_for_slack_discord_and_generic_receivers() -> None:
    [inc] = st.parse_feed(atom(incidentio_entry("01K", "Errors <b>&amp;</b> @everyone",
                                                "Investigating", "A <i>&lt;!channel&gt;</i>")))
    event = st.IncidentEvent("OpenAI", st.Kind.NEW, inc)
    slack = json.loads(st.webhook_body("https://hooks.slack.com/services/T0/B0/SECRET", event))
    assert slack == {
        "text": "OpenAI: Errors &amp; @everyone - Investigating",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": (
                "*OpenAI: Errors &amp; @everyone*\n"
                "*Investigating* · Conversations (Operational) · New incident\n"
                "A &lt;!channel&gt;\n"
                "<https://status.openai.com//incidents/01K|Open the incident>")}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": "2026-11-03 14:32:00 UTC"}]}]}
    discord = json.loads(st.webhook_body("https://discord.com/api/webhooks/1/SECRET", event))
    assert discord == {"embeds": [{
        "title": "OpenAI: Errors & @everyone - Investigating", "color": 0xF5A524,
        "fields": [{"name": "Status", "value": "Investigating", "inline": True},
                   {"name": "Product", "value": "Conversations (Operational)", "inline": True},
                   {"name": "Event", "value": "New incident", "inline": True}],
        "description": "A <!channel\\>", "url": "https://status.openai.com//incidents/01K",
        "timestamp": "2026-11-03T14:32:00Z"}], "allowed_mentions": {"parse": []}}
    marked = st.IncidentEvent("OpenAI", st.Kind.NEW, incident(
        title="**Big** [click](https://evil.test) _now_", link="https://x.test/a_b*c"))
    [embed] = json.loads(st.webhook_body("https://discord.com/api/webhooks/1/S", marked))["embeds"]
    assert embed["title"] == (
        "OpenAI: \\*\\*Big\\*\\* \\[click\\](https://evil.test) \\_now\\_ - Investigating")
    assert embed["url"] == "https://x.test/a_b*c"  # the link stays a link
    generic = json.loads(st.webhook_body("https://example.test/hook", event))
    assert generic == {**st.event_to_dict(event), "event_id": event.event_id}
    again = st.IncidentEvent("OpenAI", st.Kind.NEW, st.parse_feed(atom(incidentio_entry(
        "01K", "Errors <b>&amp;</b> @everyone", "Investigating", "A <i>&lt;!channel&gt;</i>")))[0])
    assert again.event_id == event.event_id
    moved = st.IncidentEvent("OpenAI", st.Kind.UPDATED, incident(id=inc.id, status="Resolved"))
    assert moved.event_id != event.event_id


async def test_a_receiver_that_fails_twice_gets_every_event_once_in_order(
        server: FeedServer, session: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver(statuses=[500, 429])
    server.routes["/hook/TOKEN123"] = Route(handler=receiver)
    outbox = st.Outbox()
    url = server.url("/hook/TOKEN123")
    sender = webhook_sender(url, session, outbox, secret="s3cret", rng=random.Random(1),
                              clock=FakeClock())
    for n in range(3):
        sender(st.IncidentEvent("OpenAI", st.Kind.NEW, incident(id=f"i{n}", title=f"T{n}")))
    stop, delays = asyncio.Event(), []

    async def fake_sleep(delay: float) -> None:
        delays.append(delay)

    async def stop_when_empty() -> None:
        while outbox.queued:
            await asyncio.sleep(0)
        stop.set()

    await asyncio.wait_for(asyncio.gather(sender.run(stop, sleep=fake_sleep), stop_when_empty()),
                           10)
    assert receiver.events() == [("new", "T0"), ("new", "T1"), ("new", "T2")]
    assert receiver.attempts == 5
    assert len(delays) == 2 and delays[1] >= 1  # 429 Retry-After: 1
    for body, headers in zip(receiver.bodies, receiver.headers, strict=True):
        expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers["X-Status-Tracker-Signature"] == f"sha256={expected}"
    assert "TOKEN123" not in caplog.text
    assert caplog.text.count(f"webhook http://127.0.0.1:{server.port}/…: HTTP 500; will retry") == 1


@pytest.mark.parametrize(("status", "kept"), [
    (408, True), (429, True), (500, True), (503, True),
    (400, False), (401, False), (404, False), (301, False),
])
async def test_which_webhook_replies_are_retried_and_which_drop_the_event(
        server: FeedServer, session: aiohttp.ClientSession, status: int, kept: bool) -> None:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": "/elsewhere"})

    server.routes["/hook"] = Route(handler=reply)
    outbox = st.Outbox()
    sender = webhook_sender(server.url("/hook"), session, outbox, clock=FakeClock())
    sender(st.IncidentEvent("F", st.Kind.NEW, incident()))
    delay = await sender.send_next()
    assert (delay is not None, len(outbox.queued)) == ((True, 1) if kept else (False, 0))


async def test_a_receiver_that_cannot_be_reached_keeps_the_event_for_a_retry(
        session: aiohttp.ClientSession) -> None:
    outbox = st.Outbox()
    # Nothing listens on port 9.
    sender = webhook_sender("http://127.0.0.1:9/hook", session, outbox, clock=FakeClock())
    sender(st.IncidentEvent("F", st.Kind.NEW, incident()))
    delay = await sender.send_next()
    assert delay is not None and 1 <= delay <= st.WEBHOOK_MAX_DELAY and len(outbox.queued) == 1


async def test_a_permanent_4xx_is_logged_once_with_the_reply_and_dropped(
        server: FeedServer, session: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver(statuses=[404])
    server.routes["/hook/TOKEN"] = Route(handler=receiver)
    outbox = st.Outbox()
    sender = webhook_sender(server.url("/hook/TOKEN"), session, outbox, clock=FakeClock())
    sender(st.IncidentEvent("OpenAI", st.Kind.NEW, incident(title="Gone")))
    sender(st.IncidentEvent("OpenAI", st.Kind.NEW, incident(id="i2", title="Kept")))
    assert await sender.send_next() is None and await sender.send_next() is None
    assert outbox.queued == [] and receiver.events() == [("new", "Kept")]
    assert caplog.text.count("HTTP 404 refuses the event for good, so it was dropped") == 1
    assert "nope: bad token" in caplog.text and sender.dropped == 1
    assert "TOKEN" not in caplog.text.replace("bad token", "")


async def test_the_outbox_survives_a_restart_and_is_delivered_after_it(
        tmp_path: Path, server: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="status_tracker")
    receiver = Receiver(statuses=[503] * 1000)
    server.routes["/hook/SECRET-PATH"] = Route(handler=receiver)
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    server.routes["/github"] = Route(body=atom())
    settings = service_settings(tmp_path, server, webhooks=[server.url("/hook/SECRET-PATH")],
                                drain_seconds=0)
    code, out = await run_once(settings)
    assert code == 0 and "Elevated error rates in ChatGPT" in out
    saved = json.loads(settings.state.read_text())  # type: ignore[union-attr]
    assert [json.loads(e["body"])["title"] for e in
            saved["outbox"][server.url("/hook/SECRET-PATH")]] == ["Elevated error rates in ChatGPT"]
    assert "1 event still queued; kept in the state file" in caplog.text

    receiver.statuses.clear()
    settings.drain_seconds = 5
    assert await run_once(settings) == (0, "")
    assert receiver.events() == [("active", "Elevated error rates in ChatGPT")]
    assert f"webhook http://127.0.0.1:{server.port}/…: 1 event delivered" in caplog.text
    assert json.loads(settings.state.read_text())["outbox"] == {  # type: ignore[union-attr]
        server.url("/hook/SECRET-PATH"): []}
    assert "SECRET-PATH" not in caplog.text


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tracker.toml"
    path.write_text(text)
    return path


def test_config_file_gives_feeds_and_webhooks_and_flags_override_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, """
interval = 120
webhooks = ["https://hooks.slack.com/services/T/B/X"]

[[feeds]]
name = "OpenAI"
url = "https://status.openai.com/feed.atom"

[[feeds]]
name = "GitHub"
url = "https://www.githubstatus.com/history.atom"
interval = 30
""")
    settings = st.settings_from_args(st.build_parser().parse_args(["--config", str(path)]))
    assert settings.feeds == [
        st.FeedConfig("OpenAI", "https://status.openai.com/feed.atom"),
        st.FeedConfig("GitHub", "https://www.githubstatus.com/history.atom", 30.0)]
    assert (settings.interval, settings.webhooks) == (
        120.0, ["https://hooks.slack.com/services/T/B/X"])
    overridden = st.settings_from_args(st.build_parser().parse_args(
        ["--config", str(path), "--interval", "5", "--feed", "X=https://x.test/feed"]))
    assert overridden.interval == 5 and overridden.feeds == [st.FeedConfig(
        "X", "https://x.test/feed")]


@pytest.mark.parametrize(("text", "message"), [
    ("interval = -3", "tracker.toml: interval: expected a number >= 0.5, got -3"),
    ("interval = nan", "tracker.toml: interval: expected a number >= 0.5, got nan"),
    ("max_interval = inf", "tracker.toml: max_interval: expected a number >= 0, got inf"),
    ("per_host = 2.5", "tracker.toml: per_host: expected a whole number >= 1, got 2.5"),
    ("history = true", "tracker.toml: history: expected a whole number >= 1, got True"),
    ("intervall = 3", "tracker.toml: intervall: unknown key"),
    ("[[feeds]]\nname = 'A'\nurl = 'nope'", "tracker.toml: feeds[0].url: not an http(s) URL"),
    ("[[feeds]]\nurl = 'https://a.test/'", "tracker.toml: feeds[0].name: missing or empty"),
    ("webhooks = ['ftp://x']", "tracker.toml: webhooks[0]: not an http(s) URL"),
    ("feeds = [", "tracker.toml: not valid TOML"),
])
def test_a_config_error_names_the_file_and_key_and_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
    path = write_config(tmp_path, text)
    # --once and a refused local feed: a config wrongly accepted fails fast, never hangs.
    with pytest.raises(SystemExit) as exit_info:
        st.main(["--config", str(path), "--once", "--feed", "X=http://127.0.0.1:9/feed"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


async def test_an_event_dropped_by_a_full_outbox_during_delivery_takes_no_other_with_it(
        server: FeedServer, session: aiohttp.ClientSession,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(st, "MAX_OUTBOX", 2)
    outbox = st.Outbox()
    sender = webhook_sender(server.url("/hook"), session, outbox, clock=FakeClock())
    events = [st.IncidentEvent("F", st.Kind.NEW, incident(id=f"i{n}")) for n in range(3)]

    async def slow_receiver(request: web.Request) -> web.StreamResponse:
        sender(events[2])  # arrives while the head is in flight; the full outbox drops it
        return web.Response(text="ok")

    server.routes["/hook"] = Route(handler=slow_receiver)
    sender(events[0])
    sender(events[1])
    assert await sender.send_next() is None
    assert [e.event_id for e in outbox.queued] == [events[1].event_id, events[2].event_id]


@pytest.mark.parametrize("url", [
    "https://hooks.slack.com/services/T0/B0/SECRET",
    "https://example.test/?token=SECRET",
    "https://user:SECRET@example.test",
    "https://example.test/#SECRET",
])
def test_a_webhook_url_in_logs_shows_scheme_and_host_only(url: str) -> None:
    assert "SECRET" not in st.redact_url(url)
    assert st.redact_url(url).startswith(url.split(":")[0] + "://")


def test_the_outbox_is_bounded_and_says_what_it_dropped(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(st, "MAX_OUTBOX", 2)
    outbox = st.Outbox()
    sender = webhook_sender("https://example.test/hook/KEY", None,  # type: ignore[arg-type]
                              outbox, clock=FakeClock())
    events = [st.IncidentEvent("F", st.Kind.NEW, incident(id=f"i{n}")) for n in range(3)]
    for event in events:
        sender(event)
    assert [e.event_id for e in outbox.queued] == [events[1].event_id, events[2].event_id]
    assert f"2 events queued; dropped the oldest ({events[0].event_id})" in caplog.text
    assert "KEY" not in caplog.text


# --- Supervision: a poll, a save, a delivery is a unit that can fail ---


class RawServer:
    """A TCP server on 127.0.0.1 answering every request with fixed bytes: for replies that
    aiohttp.web refuses to send (non-ASCII header bytes, broken framing)."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(self.reply)
            await writer.drain()
        writer.close()

    def url(self, path: str = "/feed") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def raw_reply(body: bytes, *headers: bytes) -> bytes:
    head = b"".join(h + b"\r\n" for h in headers)
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/atom+xml\r\n" + head
            + b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
            + body)


ASCTIME = "Sun Nov  6 08:49:37 1994"


@pytest.mark.parametrize(("headers", "fresh_for"), [
    ({"Date": ASCTIME, "Expires": "Sun Nov  6 08:59:37 1994"}, 600.0),  # asctime, RFC 9110 5.6.7
    ({"Date": "Sunday, 06-Nov-94 08:49:37 GMT", "Expires": ASCTIME}, 0.0),  # RFC 850
    ({"Expires": "Fri, 31 Dec 99999 23:59:59 GMT"}, None),
    ({"Expires": "Mon, 01 Jan 9999999999999999999 00:00:00 GMT"}, None),
    ({"Expires": "Thu, 01 Jan 1970 00:00:00 +9999"}, None),
    ({"Date": "garbage", "Expires": "Tue, 03 Nov 2026 15:01:00 GMT"}, 60.0),
    ({"Cache-Control": "max-age=²"}, None),
    ({"Cache-Control": "max-age=٣٠"}, None),  # Arabic-Indic digits: float() takes them, HTTP not
    ({"Cache-Control": "max-age=60", "Age": "²"}, 60.0),
    ({"Cache-Control": "max-age=99999999999999999999"}, None),
])
def test_no_cache_header_value_can_raise(headers: dict[str, str], fresh_for: float | None
                                         ) -> None:
    assert st.freshness_seconds(headers, NOW) == fresh_for


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), (" 7 ", 7.0), ("²", None), ("٣", None), ("-5", None), ("1e3", None),
    ("Fri, 31 Dec 99999 23:59:59 GMT", None), ("Tue, 03 Nov 2026 15:00:30 GMT", 30.0),
    ("Mon, 01 Jan 9999999999999999999 00:00:00 GMT", None), (ASCTIME, 0.0),
])
def test_no_retry_after_value_can_raise(value: str, seconds: float | None) -> None:
    assert st.retry_after_seconds(value, NOW) == seconds


async def test_an_asctime_date_with_expires_is_read_normally(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    server.routes["/feed"] = Route(body=atom(OPENAI_ACTIVE), headers={
        "Date": ASCTIME, "Expires": "Sun Nov  6 09:49:37 1994"})
    spy = Spy()
    mon = monitor(session, server.url("/feed"), spy, interval=60, max_interval=600)
    result = await mon.poll()
    assert result and spy.kinds() == [("active", "Elevated error rates in ChatGPT")]
    assert 600 <= result.delay <= 600.5  # one hour of freshness, clamped to the ceiling


async def test_a_poll_that_raises_anything_is_one_failed_poll_never_the_end_of_the_watch(
        server: FeedServer, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes["/feed"] = Route(body=atom(OPENAI_ACTIVE))
    real_decide = st.decide

    def buggy_decide(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug that odd input set off")

    monkeypatch.setattr(st, "decide", buggy_decide)
    spy = Spy()
    mon = monitor(session, server.url("/feed"), spy, failure_threshold=3)
    results = [await mon.poll() for _ in range(3)]
    assert [bool(r) for r in results] == [False, False, False]
    reason = "internal error while polling: KeyError: 'a bug that odd input set off'"
    assert spy.kinds() == [("feed_down", reason)] and mon.stats.errors == 3
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [(r.getMessage(), r.exc_info is not None) for r in errors] == [
        (f"Example: {reason}", True)]  # once, with its traceback
    assert 60 <= results[-1].delay <= 480  # backed off like any failure
    monkeypatch.setattr(st, "decide", real_decide)
    assert await mon.poll()
    assert spy.kinds()[1:] == [("active", "Elevated error rates in ChatGPT"),
                               ("feed_recovered", "")]


async def test_a_304_to_an_unconditional_request_is_an_error_not_a_read(
        server: FeedServer, session: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    server.routes["/feed"] = Route(status=304)
    spy = Spy()
    mon = monitor(session, server.url("/feed"), spy, failure_threshold=2)
    assert [bool(await mon.poll()), bool(await mon.poll())] == [False, False]
    reason = "server answered 304 to an unconditional request"
    assert spy.kinds() == [("feed_down", reason)]
    assert caplog.text.count(reason) == 1


async def test_validators_that_are_not_printable_ascii_are_not_kept_and_the_state_saves(
        tmp_path: Path, session: aiohttp.ClientSession) -> None:
    store = st.StateStore(tmp_path / "state.json", clock=FakeClock())
    reply = raw_reply(atom(OPENAI_ACTIVE), b'ETag: "caf\xe9"',
                      b"Last-Modified: Tue, 03 Nov 2026 14:00:00 GM\xd4")
    async with RawServer(reply) as raw:
        spy = Spy()
        mon = monitor(session, raw.url(), spy, state=store.feed(raw.url()), store=store)
        assert await mon.poll() and await mon.poll()
    assert (mon.state.etag, mon.state.last_modified) == (None, None)
    saved = json.loads((tmp_path / "state.json").read_text(encoding="utf-8"))
    assert saved["feeds"][raw.url()]["etag"] is None
    assert spy.kinds() == [("active", "Elevated error rates in ChatGPT")]


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\nx",  # aiohttp quotes the URL in its error
    b"HTTP/1.1 301 Moved\r\nLocation: http://[::1/secretpath\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
])
async def test_no_error_message_shows_a_url_path_query_userinfo_or_fragment(
        session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, reply: bytes) -> None:
    async with RawServer(reply) as raw:
        url = f"http://user:pw@127.0.0.1:{raw.port}/secretpath?token=SECRET#frag"
        mon = monitor(session, url, Spy())
        assert not await mon.poll()
    assert mon.failing_reason and caplog.records
    for secret in ("secretpath", "SECRET", "pw", "frag"):
        assert secret not in caplog.text


class FullDisk:
    """A write_atomic stand-in for a disk that is full until `full` is cleared."""

    def __init__(self) -> None:
        self.full = True
        self.attempts = 0

    def __call__(self, path: Path, pieces: Any) -> list[int]:
        self.attempts += 1
        if self.full:
            raise OSError(28, "No space left on device")
        return st.write_atomic(path, pieces)


async def wait_for_condition(check: Callable[[], bool], timeout: float = 5) -> None:
    """For work done in a real thread (file writes): checked often, bounded."""
    async def until() -> None:
        while not check():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(until(), timeout)


async def test_a_full_disk_is_said_once_polling_goes_on_and_a_later_save_writes_everything(
        tmp_path: Path, server: FeedServer, session: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.json"
    disk, clock = FullDisk(), FakeClock(mono=100.0)
    store = st.StateStore(path, clock=clock, rng=random.Random(3), write=disk)
    server.routes["/feed"] = Route(body=atom(OPENAI_ACTIVE))
    spy = Spy()
    mon = monitor(session, server.url("/feed"), spy, state=store.feed(server.url("/feed")),
                  store=store)
    assert await mon.poll()
    server.routes["/feed"].body = atom(OPENAI_ACTIVE, OPENAI_RESOLVED)
    assert await mon.poll()  # still polling and reporting while the disk is full
    assert [k for k, _ in spy.kinds()] == ["active", "new"]
    assert disk.attempts == 1 and not path.exists()  # the second save waits for its retry
    assert caplog.text.count("cannot save (No space left on device); polling goes on") == 1
    assert "Traceback" not in caplog.text

    disk.full = False
    slept: list[float] = []
    stop = asyncio.Event()

    async def sleep(delay: float) -> None:
        slept.append(delay)
        clock.mono += delay

    saver = asyncio.create_task(store.keep_saving(stop, sleep))
    await wait_for_condition(path.exists)
    stop.set()
    await asyncio.wait_for(saver, 5)
    assert len(slept) == 1 and 1 <= slept[0] <= 2  # the first backoff step
    incidents = json.loads(path.read_text())["feeds"][server.url("/feed")]["incidents"]
    assert set(incidents) == {"https://status.openai.com//incidents/01KACTIVE",
                              "https://status.openai.com//incidents/01KOLD"}
    assert "saved again after 1 failed write" in caplog.text


async def test_a_webhook_retry_after_that_is_not_ascii_digits_is_a_retry_not_a_crash(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.Response(status=503, headers={"Retry-After": "²"})

    server.routes["/hook"] = Route(handler=reply)
    outbox = st.Outbox()
    sender = webhook_sender(server.url("/hook"), session, outbox, rng=random.Random(1),
                              clock=FakeClock())
    sender(st.IncidentEvent("F", st.Kind.NEW, incident()))
    delay = await sender.send_next()
    assert delay is not None and 1 <= delay <= 2 and len(outbox.queued) == 1


async def test_a_webhook_retry_after_longer_than_any_backoff_is_honoured(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.Response(status=429, headers={"Retry-After": "250"})

    server.routes["/hook"] = Route(handler=reply)
    sender = webhook_sender(server.url("/hook"), session, None, rng=random.Random(1),
                              clock=FakeClock())
    sender(st.IncidentEvent("F", st.Kind.NEW, incident()))
    assert await sender.send_next() == 250  # the first backoff step is at most 2 s


async def test_any_exception_in_a_delivery_is_a_failed_attempt_and_the_event_stays_queued(
        server: FeedServer, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = Receiver()
    server.routes["/hook"] = Route(handler=receiver)
    outbox = st.Outbox()
    sender = webhook_sender(server.url("/hook"), session, outbox, secret="s", clock=FakeClock())
    sender(st.IncidentEvent("F", st.Kind.NEW, incident()))

    def broken_sign(secret: str, body: bytes) -> str:
        raise RuntimeError("signing broke")

    monkeypatch.setattr(st, "sign", broken_sign)
    assert await sender.send_next() is not None and len(outbox.queued) == 1
    assert "internal error while delivering: RuntimeError: signing broke; will retry" in (
        caplog.text)
    monkeypatch.undo()
    assert await sender.send_next() is None and receiver.events() == [("new", "Title")]


class ClosedStdout(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_is_said_once_and_never_stops_the_other_outputs(
        caplog: pytest.LogCaptureFixture) -> None:
    printer, spy = st.ConsolePrinter(ClosedStdout()), Spy()
    fanout = st.Fanout([printer, spy])
    for title in ("One", "Two"):
        fanout(st.IncidentEvent("F", st.Kind.NEW, incident(title=title)))
    assert spy.kinds() == [("new", "One"), ("new", "Two")] and printer.closed
    assert caplog.text.count("stdout cannot be written (Broken pipe)") == 1


def test_an_output_that_raises_does_not_keep_the_event_from_the_others(
        caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: st.IncidentEvent) -> None:
        raise ValueError("no")

    spy = Spy()
    st.Fanout([broken, spy])(st.IncidentEvent("F", st.Kind.NEW, incident()))
    assert spy.kinds() == [("new", "Title")]
    assert "broken: could not take an event of kind new from F: ValueError('no')" in caplog.text


@pytest.mark.skipif(sys.platform == "win32", reason="a pipe's write end as stdout")
async def test_a_stdout_nobody_reads_never_blocks_the_loop_and_bounds_its_backlog(
        caplog: pytest.LogCaptureFixture) -> None:
    read_end, write_end = os.pipe()
    stream = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 -- closed below
    try:
        writer = st.StdoutWriter(stream, backlog=3)
        block = "x" * 70_000 + "\n"  # more than a pipe holds: the thread blocks on the first
        for _ in range(10):
            writer.write(block)  # returns at once however full the pipe is
        assert writer.dropped >= 6
        assert caplog.text.count("stdout is not being read: 3 events wait for it") == 1
        assert not await writer.drain(0.05, st.Clock())
    finally:
        os.close(read_end)  # the blocked thread now gets EPIPE and ends
        await wait_for_condition(lambda: writer.broken)
        stream.close()


@pytest.mark.skipif(sys.platform == "win32", reason="a pipe's write end as stdout")
async def test_a_stdout_closed_by_its_reader_is_said_once(caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    with open(write_end, "w", encoding="utf-8") as stream:
        writer = st.StdoutWriter(stream)
        writer.write("one\n")
        writer.write("two\n")
        assert await writer.drain(5, st.Clock()) and writer.broken
    assert caplog.text.count("stdout cannot be written (Broken pipe)") == 1


def test_a_feed_beyond_the_entry_limit_is_cut_before_feedparser_sees_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(st, "MAX_ENTRIES", 5)
    seen: list[bytes] = []
    real_parse = feedparser.parse

    def spy_parse(source: io.BytesIO, **options: Any) -> Any:
        seen.append(source.getvalue())
        return real_parse(io.BytesIO(source.getvalue()), **options)

    monkeypatch.setattr(feedparser, "parse", spy_parse)
    entries = [statuspage_entry(n, f"Incident {n}", [RESOLVED]) for n in range(50)]
    found = st.parse_feed(atom(*entries))
    assert [i.title for i in found] == [f"Incident {n}" for n in range(5)]
    assert seen[0].count(b"<entry>") == 5 and seen[0].rstrip().endswith(b"</feed>")
    items = [statuspage_item(f"c{n}", f"Item {n}", [RESOLVED]) for n in range(50)]
    assert [i.title for i in st.parse_feed(rss(*items))] == [f"Item {n}" for n in range(5)]
    assert seen[1].count(b"<item>") == 5 and seen[1].rstrip().endswith(b"</channel></rss>")


async def test_a_stop_does_not_wait_for_a_parse_in_progress() -> None:
    release = threading.Event()
    task = asyncio.create_task(st.in_daemon_thread(lambda _: release.wait(30), None))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    release.set()  # lets the thread end; nothing waited for it


async def test_a_stuck_delivery_thread_never_holds_up_parsing() -> None:
    release = threading.Event()
    stuck = [asyncio.create_task(st.in_daemon_thread(lambda _: release.wait(30), None,
                                                     pool="apprise"))
             for _ in range(st.PARSE_THREADS)]
    try:
        await asyncio.sleep(0)
        assert await asyncio.wait_for(st.in_daemon_thread(len, b"parse me"), 5) == 8
    finally:
        release.set()
        await asyncio.gather(*stuck)


async def test_once_ends_within_its_bounds_when_a_feed_or_a_webhook_never_answers(
        tmp_path: Path, server: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    async def never(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    server.routes["/github"] = Route(handler=never)
    server.routes["/hook"] = Route(handler=never)
    settings = service_settings(tmp_path, server, webhooks=[server.url("/hook")],
                                once_poll_seconds=0.3, drain_seconds=0.3)
    code, out = await asyncio.wait_for(run_once(settings), 10)
    assert code == 1 and "Elevated error rates in ChatGPT" in out
    assert "GitHub: no answer within 0.3s; not read this time" in caplog.text
    outbox = json.loads((tmp_path / "state.json").read_text())["outbox"]
    assert len(outbox[server.url("/hook")]) == 1  # kept for the next run


async def test_once_exits_1_when_a_webhook_refuses_an_event_for_good(
        tmp_path: Path, server: FeedServer) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    server.routes["/github"] = Route(body=atom())
    server.routes["/hook"] = Route(handler=Receiver(statuses=[404]))
    settings = service_settings(tmp_path, server, webhooks=[server.url("/hook")])
    assert (await run_once(settings))[0] == 1


async def test_cron_mode_reports_feed_down_and_recovered_after_as_many_reads_as_watch_mode(
        tmp_path: Path, server: FeedServer) -> None:
    server.routes["/openai"] = Route(status=500)
    server.routes["/github"] = Route(body=atom())
    receiver = Receiver()
    server.routes["/hook"] = Route(handler=receiver)
    settings = service_settings(tmp_path, server, webhooks=[server.url("/hook")])
    outputs = [await run_once(settings) for _ in range(4)]
    assert [code for code, _ in outputs] == [1, 1, 1, 1]
    assert ["feed down" in out for _, out in outputs] == [False, False, True, False]
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    code, out = await run_once(settings)
    assert code == 0 and "OpenAI - feed recovered" in out
    assert "Incident: Elevated error rates in ChatGPT" in out  # its first read: a baseline
    assert [json.loads(b)["kind"] for b in receiver.bodies] == [
        "feed_down", "active", "feed_recovered"]


# --- Notifications: routes, formats, quiet hours, digests ---


def health(feed: str, kind: st.Kind = st.Kind.FEED_DOWN) -> st.IncidentEvent:
    return st.IncidentEvent(feed, kind, at=NOW,
                            error="HTTP 503" if kind is st.Kind.FEED_DOWN else None)


def test_a_route_takes_only_the_feeds_components_impact_and_kinds_it_names() -> None:
    route = st.Route("https://hooks.example.test/x", feeds=("GitHub",),
                     filter=st.EventFilter(("Actions",), "major"), kinds=("new", "feed_down"))
    actions = incident(components=("Actions (Major outage)",), impact="critical")
    assert route.accepts(st.IncidentEvent("github", st.Kind.NEW, actions))
    assert not route.accepts(st.IncidentEvent("OpenAI", st.Kind.NEW, actions))
    assert not route.accepts(st.IncidentEvent("GitHub", st.Kind.UPDATED, actions))
    assert not route.accepts(st.IncidentEvent("GitHub", st.Kind.NEW, dataclasses.replace(
        actions, impact="minor")))
    assert route.accepts(st.IncidentEvent("GitHub", st.Kind.NEW, incident()))  # unknown: passes
    assert route.accepts(health("GitHub")) and not route.accepts(health("OpenAI"))


@pytest.mark.parametrize(("url", "fmt"), [
    ("https://hooks.slack.com/services/T/B/X", "slack"),
    ("https://discord.com/api/webhooks/1/X", "discord"),
    ("https://prod-01.westeurope.logic.azure.com:443/workflows/abc", "teams"),
    ("https://x.environment.api.powerplatform.com/powerautomate/flows/1", "teams"),
    ("https://ntfy.example.test/alerts", "json"),
    ("tgram://bot/chat", "apprise"),
])
def test_auto_picks_the_format_by_host_and_scheme(url: str, fmt: str) -> None:
    assert st.resolve_format(url, "auto") == fmt


def test_each_format_escapes_markup_and_keeps_to_its_size_limit() -> None:
    hostile = st.IncidentEvent("GitHub", st.Kind.NEW, incident(
        title="<!channel> **pwn** [x](https://evil.test) @everyone", message="m" * 50_000,
        components=("Actions (Major outage)",), impact="major", link="https://x.test/i1"))
    slack = json.loads(st.render("https://hooks.slack.com/x", "slack", [hostile]))
    text = json.dumps(slack, ensure_ascii=False)
    assert "&lt;!channel&gt;" in slack["text"] and "<!channel>" not in text
    assert all(len(b["text"]["text"]) <= 3000 for b in slack["blocks"] if "text" in b)
    discord = json.loads(st.render("https://discord.com/api/webhooks/1/x", "discord",
                                   [hostile]))
    assert discord["allowed_mentions"] == {"parse": []}
    [embed] = discord["embeds"]
    assert "\\*\\*pwn\\*\\*" in embed["title"] and len(embed["title"]) <= 256
    assert len(embed["description"]) <= 4096 and embed["color"] == 0xE5484D
    assert len(json.dumps(embed, ensure_ascii=False)) < 6000
    card = json.loads(st.render("https://a.logic.azure.com/w", "teams", [hostile]))
    text = json.dumps(card)
    assert "**pwn**" not in text and "](https://evil.test)" not in text and len(text) < 28_000
    ntfy = json.loads(st.render("https://ntfy.example.test/alerts", "ntfy", [hostile]))
    assert len(ntfy["message"].encode()) <= 4096 and ntfy["priority"] == 4
    wide = st.IncidentEvent("GitHub", st.Kind.NEW, incident(message="сбой " * 800))  # 4,000 chars
    ntfy = json.loads(st.render("https://ntfy.example.test/alerts", "ntfy", [wide]))
    assert len(ntfy["message"].encode()) <= 4000 and ntfy["message"].endswith("…")


async def test_every_http_format_reaches_a_receiver_in_its_shape_and_signed(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    receiver = Receiver()
    server.routes["/workflows/teams"] = Route(handler=receiver)
    server.routes["/"] = Route(handler=receiver)  # ntfy posts to the server root
    event = st.IncidentEvent("GitHub", st.Kind.UPDATED, incident(
        title="Actions degraded", status="Identified", components=("Actions (Partial outage)",),
        impact="major", message="A bad deploy.", link="https://status.example.test/i/1"))
    for path, fmt in (("/workflows/teams", st.Format.TEAMS), ("/alerts", st.Format.NTFY)):
        route = st.Route(server.url(path), format=fmt, secret="s3")
        sender = webhook_sender(route.url, session, None, route=route, clock=FakeClock())
        sender(event)
        assert await sender.send_next() is None
    teams, ntfy = (json.loads(b) for b in receiver.bodies)
    [attachment] = teams["attachments"]
    assert (teams["type"], attachment["contentType"]) == (
        "message", "application/vnd.microsoft.card.adaptive")
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open", "url": "https://status.example.test/i/1"}]
    assert card["body"][1]["facts"] == [
        {"title": "Event", "value": "Update"}, {"title": "Status", "value": "Identified"},
        {"title": "Feed", "value": "GitHub"},
        {"title": "Components", "value": "Actions (Partial outage)"},
        {"title": "Impact", "value": "major"}]
    assert ntfy == {"topic": "alerts", "title": "GitHub: Actions degraded - Identified",
                    "message": st.format_event(event, message_limit=st.MAX_MESSAGE),
                    "tags": ["rotating_light"], "priority": 4,
                    "click": "https://status.example.test/i/1"}
    assert [p for p, _ in server.requests] == ["/workflows/teams", "/"]
    for body, headers in zip(receiver.bodies, receiver.headers, strict=True):
        expected = hmac.new(b"s3", body, hashlib.sha256).hexdigest()
        assert headers["X-Status-Tracker-Signature"] == f"sha256={expected}"


async def test_a_routes_own_secret_signs_its_bodies_even_with_a_global_secret_set(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    receiver = Receiver()
    server.routes["/own"] = Route(handler=receiver)
    server.routes["/global"] = Route(handler=receiver)
    event = st.IncidentEvent("GitHub", st.Kind.NEW, incident())
    for path, own in (("/own", "route-secret"), ("/global", None)):
        route = st.Route(server.url(path), secret=own)
        sender = webhook_sender(route.url, session, None, route=route, secret="global-secret",
                                  clock=FakeClock())
        sender(event)
        assert await sender.send_next() is None
    assert [h["X-Status-Tracker-Signature"] for h in receiver.headers] == [
        "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        for key, body in zip((b"route-secret", b"global-secret"), receiver.bodies, strict=True)]


async def test_ntfy_behind_a_reverse_proxy_path_gets_its_topic_and_keeps_its_auth_query(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    queries: list[str] = []
    receiver = Receiver()

    async def ntfy(request: web.Request) -> web.StreamResponse:
        queries.append(request.query_string)
        return await receiver(request)

    server.routes["/ntfy/"] = Route(handler=ntfy)
    url = server.url("/ntfy/alerts?auth=tk_SECRET")
    assert st.ntfy_target(url) == (server.url("/ntfy/?auth=tk_SECRET"), "alerts")
    route = st.Route(url, format=st.Format.NTFY)
    sender = webhook_sender(url, session, None, route=route, clock=FakeClock())
    sender(st.IncidentEvent("GitHub", st.Kind.UPDATED, incident(status="Resolved")))
    assert await sender.send_next() is None
    [body] = map(json.loads, receiver.bodies)
    assert (body["topic"], body["tags"], queries) == ("alerts", ["white_check_mark"],
                                                      ["auth=tk_SECRET"])


def test_quiet_hours_hold_events_and_deliver_one_digest_at_their_end(
        session: aiohttp.ClientSession) -> None:
    clock = FakeClock(datetime(2026, 11, 3, 21, 30, tzinfo=UTC))  # 22:30 in Berlin
    route = st.Route("https://hooks.example.test/x", quiet_hours=(22 * 60, 7 * 60),
                     timezone="Europe/Berlin", urgent=True)
    outbox = st.Outbox()
    sender = webhook_sender(route.url, session, outbox, route=route, clock=clock)
    sender(st.IncidentEvent("GitHub", st.Kind.NEW, incident(title="First")))
    sender(st.IncidentEvent("OpenAI", st.Kind.NEW, incident(id="i2", title="Second")))
    sender(health("OpenAI"))  # urgent: never held
    assert [json.loads(e.body)["kind"] for e in outbox.queued] == ["feed_down"]
    assert len(outbox.held) == 2 and not sender.flush(clock.wall)
    clock.wall = datetime(2026, 11, 4, 5, 59, tzinfo=UTC)  # 06:59 local: still quiet
    assert not sender.flush(clock.wall)
    clock.wall = datetime(2026, 11, 4, 6, 0, tzinfo=UTC)  # 07:00 local
    assert sender.flush(clock.wall) and outbox.held == []
    digest = json.loads(outbox.queued[-1].body)
    assert digest["kind"] == "digest" and [e["title"] for e in digest["events"]] == [
        "First", "Second"]
    sender(st.IncidentEvent("GitHub", st.Kind.UPDATED, incident(title="After")))
    assert json.loads(outbox.queued[-1].body)["title"] == "After"  # out of quiet hours: at once


def test_daytime_quiet_hours_hold_from_their_first_minute_to_before_their_last() -> None:
    route = st.Route("https://example.test/hook", quiet_hours=(9 * 60, 17 * 60))
    day = datetime(2026, 11, 3, tzinfo=UTC)
    assert [route.quiet_at(day + timedelta(hours=h, minutes=m)) for h, m in (
        (8, 59), (9, 0), (12, 0), (16, 59), (17, 0), (23, 0))] == [
        False, True, True, True, False, False]


def test_quiet_hours_follow_local_time_across_a_dst_change() -> None:
    route = st.Route("https://x.test/", quiet_hours=(22 * 60, 7 * 60), timezone="Europe/Berlin")
    # Berlin moves from UTC+1 to UTC+2 on 2026-03-29 at 01:00 UTC.
    assert route.quiet_at(datetime(2026, 3, 28, 5, 30, tzinfo=UTC))  # 06:30 CET
    assert not route.quiet_at(datetime(2026, 3, 28, 6, 0, tzinfo=UTC))  # 07:00 CET
    assert route.quiet_at(datetime(2026, 3, 29, 4, 30, tzinfo=UTC))  # 06:30 CEST
    assert not route.quiet_at(datetime(2026, 3, 29, 5, 0, tzinfo=UTC))  # 07:00 CEST
    assert route.quiet_at(datetime(2026, 3, 28, 21, 0, tzinfo=UTC))  # 22:00 CET
    assert not route.quiet_at(datetime(2026, 3, 29, 19, 59, tzinfo=UTC))  # 21:59 CEST


def test_a_digest_route_sends_one_message_per_period_grouped_by_feed(
        session: aiohttp.ClientSession) -> None:
    clock = FakeClock()
    route = st.Route("https://hooks.slack.com/services/T/B/X", digest=900)
    outbox = st.Outbox()
    sender = webhook_sender(route.url, session, outbox, route=route, clock=clock)
    at = NOW - timedelta(minutes=30)
    for feed, title, status, minutes in [("GitHub", "Actions", "Investigating", 0),
                                         ("OpenAI", "ChatGPT", "Investigating", 5),
                                         ("GitHub", "Actions", "Resolved", 10)]:
        sender(st.IncidentEvent(feed, st.Kind.UPDATED, incident(
            title=title, status=status, updated=at + timedelta(minutes=minutes))))
    assert sender.flush_due_in(clock.wall) == 900 and not sender.flush(clock.wall)
    clock.wall += timedelta(seconds=900)
    assert sender.flush(clock.wall)
    assert json.loads(outbox.queued[0].body)["text"] == (
        "Status digest: 3 events\n"
        "GitHub\n"
        "  2026-11-03 14:30:00 UTC  Update: Actions - Investigating\n"
        "  2026-11-03 14:40:00 UTC  Update: Actions - Resolved\n"
        "OpenAI\n"
        "  2026-11-03 14:35:00 UTC  Update: ChatGPT - Investigating")


async def test_held_events_survive_a_restart_in_the_middle_of_quiet_hours(
        tmp_path: Path, server: FeedServer) -> None:
    receiver = Receiver()
    server.routes["/hook"] = Route(handler=receiver)
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    server.routes["/github"] = Route(body=atom())
    minute = NOW.hour * 60 + NOW.minute  # the run's clock (run_once) stands at NOW
    quiet = st.Route(server.url("/hook"), quiet_hours=(minute - 60, minute + 60))
    settings = service_settings(tmp_path, server, routes=[quiet])
    assert (await run_once(settings))[0] == 0
    held = json.loads((tmp_path / "state.json").read_text())["held"][server.url("/hook")]
    assert [e["title"] for e in held["events"]] == ["Elevated error rates in ChatGPT"]
    assert (await run_once(settings))[0] == 0 and receiver.bodies == []  # a restart, still quiet
    settings.routes = [dataclasses.replace(quiet, quiet_hours=None)]  # the window has ended
    assert (await run_once(settings))[0] == 0
    assert receiver.events() == [("active", "Elevated error rates in ChatGPT")]
    assert json.loads((tmp_path / "state.json").read_text())["held"] == {}


async def test_apprise_routes_deliver_through_apprise_to_a_loopback_receiver(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    pytest.importorskip("apprise", reason="Apprise is optional; CI installs it")
    bodies: list[dict[str, Any]] = []

    async def apprise_json(request: web.Request) -> web.StreamResponse:
        bodies.append(await request.json())
        return web.Response(text="ok")

    server.routes["/apprise"] = Route(handler=apprise_json)
    url = f"json://127.0.0.1:{server.port}/apprise?token=SECRET"
    route = st.Route(url)
    sender = webhook_sender(url, session, None, route=route, clock=FakeClock())
    assert "SECRET" not in sender.label and sender.format == "apprise"
    sender(st.IncidentEvent("GitHub", st.Kind.NEW, incident(title="Actions degraded",
                                                      impact="critical")))
    assert await sender.send_next() is None
    [body] = bodies
    assert (body["title"], body["type"]) == ("GitHub: Actions degraded - Investigating",
                                             "failure")
    assert "Incident: Actions degraded" in body["message"]


async def test_apprise_says_nothing_on_our_stderr_and_a_resolved_incident_is_a_success(
        server: FeedServer, tmp_path: Path) -> None:
    pytest.importorskip("apprise", reason="Apprise is optional; CI installs it")
    bodies: list[dict[str, Any]] = []

    async def apprise_json(request: web.Request) -> web.StreamResponse:
        bodies.append(await request.json())
        return web.Response(text="ok")

    server.routes["/apprise"] = Route(handler=apprise_json)
    server.routes["/openai"] = Route(body=atom(OPENAI_RESOLVED))
    config = write_config(tmp_path, f"""
[[notify]]
url = "json://127.0.0.1:{server.port}/apprise?token=SECRET"
""")
    code, _, err = await run_cli("--once", "-v", "--history", "1", "--config", str(config),
                                   "--feed", f"OpenAI={server.url('/openai')}")
    assert code == 0, err
    assert [(b["title"], b["type"]) for b in bodies] == [("OpenAI: Sora slow - Resolved",
                                                         "success")]
    assert "Notifying" not in err and "SECRET" not in err, err


def test_notify_routes_in_the_config_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, """
webhooks = ["https://hooks.example.test/plain"]

[[notify]]
url = "https://hooks.slack.com/services/T/B/X"
feeds = ["GitHub"]
components = ["Actions"]
min_impact = "major"
kinds = ["new", "updated", "feed_down"]
quiet_hours = "22:00-07:00"
timezone = "Europe/Berlin"
digest = "15m"
secret = "s"
urgent = true
""")
    settings = st.settings_from_args(st.build_parser().parse_args(["--config", str(path)]))
    assert st.all_routes(settings) == [
        st.Route("https://hooks.slack.com/services/T/B/X", feeds=("GitHub",),
                 filter=st.EventFilter(("Actions",), "major"),
                 kinds=("new", "updated", "feed_down"), quiet_hours=(1320, 420),
                 timezone="Europe/Berlin", digest=900.0, secret="s", urgent=True),
        st.Route("https://hooks.example.test/plain")]


@pytest.mark.parametrize(("text", "message"), [
    ("url = 'https://a.test/'\nformat = 'pager'", "notify[0].format: expected one of auto,"),
    ("url = 'https://a.test/'\nquiet_hours = '22-7'", 'notify[0].quiet_hours: expected "HH:MM'),
    ("url = 'https://a.test/'\ntimezone = 'Mars/Olympus'",
     "notify[0].timezone: unknown time zone 'Mars/Olympus' (on a system without time zone "
     "data: pip install tzdata)"),
    ("url = 'https://a.test/'\ndigest = 'soon'", "notify[0].digest: expected a duration"),
    ("url = 'https://a.test/'\nkinds = ['new', 'everything']",
     "notify[0].kinds: unknown 'everything'"),
    ("url = 'https://a.test:99999/TOKEN'", "notify[0].url: not a valid URL: bad port"),
    ("url = 'https://a.test/'\npager = true", "notify[0].pager: unknown key"),
])
def test_a_route_error_names_the_file_the_index_and_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
    path = write_config(tmp_path, f"[[notify]]\n{text}\n")
    code, _ = run_main("--config", str(path))
    err = capsys.readouterr().err
    assert code == 2 and message in err and "TOKEN" not in err


def test_an_apprise_route_without_apprise_installed_says_how_to_get_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(st, "apprise_available", lambda: False)
    path = write_config(tmp_path, "[[notify]]\nurl = 'tgram://123:ABC/456'\n")
    code, _ = run_main("--config", str(path))
    err = capsys.readouterr().err
    assert code == 2 and "pip install apprise" in err and "ABC" not in err


# --- Monitoring: /metrics, /healthz, /readyz, /status ---

_SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|'
                     r'NaN|\+Inf|-Inf))')
_LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def parse_exposition(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A strict reader of the Prometheus text format 0.0.4: every sample's family has HELP and
    TYPE first, once; counters end in _total; label values are escaped; no series twice."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    helps: set[str] = set()
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert name not in helps, f"HELP twice for {name}"
            helps.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name in helps and name not in types and kind in ("counter", "gauge")
            assert (kind == "counter") == name.endswith("_total"), name
            types[name] = kind
        else:
            match = _SAMPLE.fullmatch(line)
            assert match, f"not a sample line: {line!r}"
            name, raw_labels, value = match[1], match[2] or "", match[3]
            assert name in types, f"sample before its TYPE: {line!r}"
            labels = []
            rest = raw_labels
            while rest:
                pair = _LABEL_PAIR.match(rest)
                assert pair, f"bad labels in {line!r}"
                unescaped = pair[2].replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
                labels.append((pair[1], unescaped))
                rest = rest[pair.end():]
            key = (name, tuple(labels))
            assert key not in samples, f"series twice: {key}"
            samples[key] = float(value)
    return samples


def series(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
           **labels: str) -> float:
    [value] = [v for (n, ls), v in samples.items()
               if n == name and all((k, labels[k]) in ls for k in labels)]
    return value


async def test_metrics_follow_the_feeds_counters_only_go_up_and_feed_up_flips(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE, OPENAI_RESOLVED))
    server.routes["/flaky"] = Route(body=atom(OPENAI_RESOLVED), headers={"ETag": '"v1"'})
    odd = monitor(session, server.url("/openai"), Spy())
    odd.name = 'Open "AI" \\ beta'
    flaky = monitor(session, server.url("/flaky"), Spy(), failure_threshold=1)
    sender = webhook_sender("https://hooks.slack.com/services/T/B/SECRET", session, None,
                              clock=FakeClock())
    monitoring = st.Monitoring([odd, flaky], [sender], clock=FakeClock())
    before = parse_exposition(monitoring.render())
    assert series(before, "status_tracker_build_info", version=st.__version__) == 1
    assert not [k for k in before if k[0] == "status_tracker_feed_up"]  # nothing polled yet

    assert await odd.poll() and await flaky.poll() and await flaky.poll()  # 200, then 304
    first = parse_exposition(monitoring.render())
    assert series(first, "status_tracker_feed_up", feed='Open "AI" \\ beta') == 1
    assert series(first, "status_tracker_polls_total", feed="Example", result="not_modified") == 1
    assert series(first, "status_tracker_events_total", feed='Open "AI" \\ beta',
                  kind="active") == 1
    assert series(first, "status_tracker_open_incidents", feed='Open "AI" \\ beta') == 1
    assert series(first, "status_tracker_component_status", feed='Open "AI" \\ beta',
                  component="Conversations", status="degraded_performance") == 1
    assert series(first, "status_tracker_component_status", feed='Open "AI" \\ beta',
                  component="Conversations", status="operational") == 0
    assert series(first, "status_tracker_webhook_outbox_events",
                  webhook="https://hooks.slack.com/…") == 0
    assert "SECRET" not in monitoring.render()

    server.routes["/flaky"] = Route(status=500)
    assert not await flaky.poll()
    down = parse_exposition(monitoring.render())
    assert series(down, "status_tracker_feed_up", feed="Example") == 0
    assert series(down, "status_tracker_polls_total", feed="Example", result="error") == 1
    server.routes["/flaky"] = Route(body=atom(OPENAI_RESOLVED))
    assert await flaky.poll()
    up = parse_exposition(monitoring.render())
    assert series(up, "status_tracker_feed_up", feed="Example") == 1
    for later, earlier in ((first, before), (down, first), (up, down)):
        for key, value in earlier.items():
            if key[0].endswith("_total"):
                assert later[key] >= value, key


async def test_metric_lines_not_built_up_front_are_built_by_the_first_scrape(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    polled = monitor(session, server.url("/openai"), Spy())
    monitoring = st.Monitoring([polled], [], clock=FakeClock(), lines=False)
    assert not polled.polled_hooks  # nothing is kept up to date without --metrics
    assert await polled.poll()
    samples = parse_exposition(monitoring.render())
    assert series(samples, "status_tracker_polls_total", feed="Example", result="modified") == 1
    assert await polled.poll()
    again = parse_exposition(monitoring.render())
    assert series(again, "status_tracker_polls_total", feed="Example", result="unchanged") == 1


async def test_the_endpoints_answer_over_loopback_while_watching(server: FeedServer) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    server.routes["/hang"] = Route(handler=slow_drip)
    settings = st.Settings(feeds=[st.FeedConfig("OpenAI", server.url("/openai")),
                                  st.FeedConfig("Hang", server.url("/hang"))],
                           # 1 s: the first polls are spread over at most an interval
                           interval=1, serve=("127.0.0.1", 0))
    stop = asyncio.Event()
    ready: list[st.Monitoring] = []
    watch = asyncio.create_task(st.run_tracker(settings, stop, clock=FixedWall(),
                                               stdout=io.StringIO(), on_monitoring=ready.append))
    try:
        await wait_for_condition(lambda: bool(ready) and ready[0].bound is not None)
        host, port = ready[0].bound  # type: ignore[misc]
        base = f"http://{host}:{port}"
        async with aiohttp.ClientSession() as client:
            async def get(path: str) -> tuple[int, str, str]:
                async with client.get(base + path) as resp:
                    return resp.status, resp.headers["Content-Type"], await resp.text()

            assert (await get("/healthz"))[:1] == (200,)
            status, _, text = await get("/readyz")
            assert status == 503 and "not polled yet" in text  # Hang's first poll hangs
            await wait_for_condition(  # OpenAI's first poll has ended
                lambda: ready[0].monitors[0].stats.last_success is not None)
            status, ctype, text = await get("/metrics")
            assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
            assert series(parse_exposition(text), "status_tracker_feed_up", feed="OpenAI") == 1
            status, _, text = await get("/status")
            board = json.loads(text)
            # Worst first: a feed not read yet is not known to be well.
            assert status == 200 and [(f["feed"], f["level"]) for f in board["feeds"]] == [
                ("Hang", "not read"), ("OpenAI", "incident")]
            assert board["feeds"][1]["incidents"][0]["title"] == "Elevated error rates in ChatGPT"
    finally:
        stop.set()
        assert await asyncio.wait_for(watch, 5) == 0


async def test_a_stdout_without_a_file_descriptor_is_written_through_the_stream() -> None:
    stream = io.StringIO()  # what an IDE or a test harness may put in sys.stdout
    writer = st.StdoutWriter(stream)
    writer.write("one\n")
    assert await writer.drain(5, st.Clock()) and stream.getvalue() == "one\n"


def test_a_metrics_port_in_use_is_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = st.main(["--metrics", str(port), "--feed", "X=http://127.0.0.1:9/feed"])  # alias
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [f"status_tracker.py: error: --serve 127.0.0.1:{port}: "
                                "cannot listen there: address already in use"]


@pytest.mark.parametrize(("text", "address"), [
    ("9100", ("127.0.0.1", 9100)), ("0.0.0.0:9100", ("0.0.0.0", 9100)),
    ("[::1]:9100", ("::1", 9100))])
def test_metrics_addresses(text: str, address: tuple[str, int]) -> None:
    assert st.metrics_address(text) == address
    for bad in ("nope", "host:", "70000", ":80"):
        with pytest.raises(ValueError):
            st.metrics_address(bad)


# --- Paths and arguments are checked before anything is touched ---


def run_main(*args: str) -> tuple[int, str]:
    """main() with a refused local feed: a wrongly accepted argument fails fast."""
    try:
        code = st.main([*args, "--once", "--feed", "X=http://127.0.0.1:9/feed"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, ""


@pytest.mark.parametrize("kind", ["folder", "device", "fifo", "missing folder", "toml"])
def test_a_state_path_that_is_no_state_file_is_refused_and_left_alone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    if kind in ("device", "fifo") and sys.platform == "win32":
        pytest.skip("POSIX special files")
    target = {"folder": tmp_path / "dir", "device": tmp_path / "null",
              "fifo": tmp_path / "fifo",
              "missing folder": tmp_path / "nope" / "deeper" / "state.json",
              "toml": tmp_path / "tracker.toml"}[kind]
    if kind == "folder":
        target.mkdir()
    elif kind == "device":
        # A null device of the test's own: were the check ever broken, the tracker would set
        # aside this node, never the machine's /dev/null.
        try:
            os.mknod(target, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device node needs root")
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "toml":
        target.write_text('interval = 60\n[[feeds]]\nname = "A"\n')
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _ = run_main("--state", str(target))
    err = capsys.readouterr().err
    assert code == 2, err
    [line] = err.splitlines()
    assert line.startswith("status_tracker.py: error: state file")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if kind == "toml":
        assert target.read_text().startswith("interval = 60")


def test_log_lines_carry_the_date_unless_a_person_reads_them_at_a_terminal() -> None:
    record = logging.LogRecord("status_tracker", logging.INFO, "", 0, "hello", None, None)
    record.created = datetime(2026, 11, 3, 14, 5, 9, tzinfo=UTC).timestamp()
    local = datetime.fromtimestamp(record.created).astimezone()
    assert st.LogFormatter(terminal=False).format(record) == (
        f"{local.isoformat(timespec='seconds')} INFO hello")
    assert st.LogFormatter(terminal=True).format(record) == f"{local:%H:%M:%S} INFO hello"


def test_the_startup_line_names_each_feed_and_its_own_interval() -> None:
    feeds = [st.FeedConfig("A", "https://a.test/feed?token=secret"),
             st.FeedConfig("B", "https://b.test/x.atom", interval=300)]
    assert st.describe_watch(st.Settings(feeds=feeds, interval=60)) == (
        "watching 2 feeds: A (https://a.test/…, every 60s), B (https://b.test/…, every 300s)")
    many = [st.FeedConfig(f"F{i}", f"https://f.test/{i}") for i in range(12)]
    line = st.describe_watch(st.Settings(feeds=many, interval=60))
    assert line.startswith("watching 12 feeds every 60s: F0 (https://f.test/…), ")
    assert line.endswith("F9 (https://f.test/…), and 2 more")


async def test_a_refused_connection_is_said_in_words_with_host_and_port(
        session: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: the connection is refused
        with pytest.raises(st.FeedError) as caught:
            await st.fetch(session, f"http://127.0.0.1:{port}/feed", st.FeedState(), now=NOW)
    assert str(caught.value) == f"cannot connect to 127.0.0.1 port {port}: connection refused"


async def test_tls_failures_are_said_as_tls_not_as_a_system_error(
        server: FeedServer, tmp_path: Path) -> None:
    """OpenSSL's error number 1 once read as "operation not permitted"."""
    code, _, err = await run_cli("--once", "--feed", f"Plain={server.url('/x')}".replace(
        "http://", "https://"))
    assert code == 1
    assert f"Plain: cannot connect to 127.0.0.1 port {server.port}: TLS handshake failed: " \
        "wrong version number" in err
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    runner = web.AppRunner(web.Application())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        code, _, err = await run_cli("--once", "--feed", f"Signed=https://127.0.0.1:{port}/")
    finally:
        await runner.cleanup()
    assert code == 1
    # OpenSSL 1.1 writes "self signed", 3.0 "self-signed".
    assert re.search(f"Signed: cannot connect to 127.0.0.1 port {port}: TLS certificate not "
                     "trusted: self.signed certificate", err), err


def test_two_routes_to_one_host_are_told_apart_in_the_logs(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_main("--webhook", "http://127.0.0.1:9/hook/A", "--webhook",
                       "http://127.0.0.1:9/hook/B")
    err = capsys.readouterr().err
    assert code == 1
    assert "webhook http://127.0.0.1:9/… (route 1): 0 events delivered" in err
    assert "webhook http://127.0.0.1:9/… (route 2): 0 events delivered" in err


def test_flags_that_status_does_not_use_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        st.main(["--status", "--metrics", "9", "--feed", "X=http://127.0.0.1:9/feed"])
    except SystemExit as exc:
        assert exc.code == 1
    assert "--status prints the board and exits; not used with it: --serve" in (
        capsys.readouterr().err)


def test_status_with_a_state_file_not_yet_made_shows_the_board(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = st.main(["--status", "--state", str(tmp_path / "new" / "state.json"),
                    "--feed", "X=http://127.0.0.1:9/feed"])
    out, err = capsys.readouterr()
    assert code == 1 and out.startswith("X  feed failing: cannot connect to 127.0.0.1 port 9")
    assert "does not exist" not in err and not (tmp_path / "new").exists()


def test_a_body_that_is_not_xml_is_said_in_words() -> None:
    with pytest.raises(st.FeedError, match=re.escape(
            "not a feed: the body is not XML (syntax error)")):
        st.parse_feed(b"Service Unavailable\nplease retry")


def test_a_missing_state_folder_is_created_when_its_parent_exists(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "status_tracker" / "state.json"
    code, _ = run_main("--state", str(target))
    err = capsys.readouterr().err
    assert code == 1 and target.is_file(), err  # the refused feed fails; the state is saved
    assert f"created folder {target.parent} for the state file" in err
    if sys.platform != "win32":
        assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700


def test_a_missing_state_folder_error_says_what_to_create(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "a" / "b" / "state.json"
    code, _ = run_main("--state", str(target))
    assert code == 2 and not (tmp_path / "a").exists()
    assert f"create it first (mkdir -p {target.parent})" in capsys.readouterr().err


@pytest.mark.parametrize(("where", "why"), [
    ("open", "Permission denied"),  # what chmod 000 does for anyone but root
    ("read", "Input/output error"),  # a disk failing under the file, past its first bytes
])
def test_a_state_file_that_cannot_be_read_is_refused_not_set_aside(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, where: str, why: str) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version":1,"feeds":{},"outbox":{"http://h/x":[{"event_id":"e"}]}}')
    real_open, content = Path.open, path.read_bytes()

    class Failing(io.BytesIO):
        def read(self, size: int | None = -1, /) -> bytes:
            if self.tell() >= 64:  # past what the startup check of the path reads
                raise OSError(5, why)
            return super().read(size)

    def failing(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self != path:
            return real_open(self, *args, **kwargs)
        if where == "open" and path.with_name("state.json.lock").exists():  # once loading
            raise PermissionError(13, why)
        return Failing(content)

    monkeypatch.setattr(Path, "open", failing)
    code, _ = run_main("--state", str(path))
    assert code == 2
    assert f"state file {path}: cannot read it: {why}" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]


def test_home_is_expanded_in_state_and_config_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    (tmp_path / "t.toml").write_text('state = "~/from-config.json"\n')
    from_flag = st.settings_from_args(st.build_parser().parse_args(["--state", "~/s.json"]))
    from_config = st.settings_from_args(st.build_parser().parse_args(["--config", "~/t.toml"]))
    assert (from_flag.state, from_config.state) == (tmp_path / "s.json",
                                                    tmp_path / "from-config.json")


@pytest.mark.parametrize("kind", ["fifo", "zero", "huge"])
def test_a_config_that_is_not_a_small_regular_file_is_refused_at_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    if kind in ("fifo", "zero") and sys.platform == "win32":
        pytest.skip("POSIX special files")
    path = {"fifo": tmp_path / "fifo", "zero": Path("/dev/zero"),
            "huge": tmp_path / "huge.toml"}[kind]
    if kind == "fifo":
        os.mkfifo(path)  # opening it would wait for a writer for ever
    elif kind == "huge":
        path.write_text("# padding\n" * 120_000)
    code, _ = run_main("--config", str(path))
    err = capsys.readouterr().err
    assert code == 2
    assert ("not a regular file" in err) if kind != "huge" else ("larger than 1024 KiB" in err)


def test_a_config_with_a_utf8_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_bytes('\ufeffinterval = 90\n'.encode())
    assert st.load_config(path).values == {"interval": 90.0}


@pytest.mark.parametrize(("key", "flag_text", "toml_value", "message"), [
    ("interval", "0.1", "0.1", "expected a number >= 0.5, got 0.1"),
    ("per_host", "0", "0", "expected a whole number >= 1, got 0"),
    ("failure_threshold", "2.5", "2.5", "expected a whole number >= 1, got 2.5"),
    ("serve", "70000", "70000", "expected PORT or HOST:PORT, got '70000'"),
    ("contact", "ops@example.com", '"ops@example.com"', "expected mailto:ADDRESS or an http"),
])
def test_a_setting_is_checked_alike_as_a_flag_and_in_the_config_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, flag_text: str,
        toml_value: str, message: str) -> None:
    option = next(o for o in st.OPTIONS if o.key == key)
    with pytest.raises(SystemExit):
        st.build_parser().parse_args([option.flag, flag_text])
    assert f"argument {'/'.join(option.flags)}: {message}" in capsys.readouterr().err
    path = tmp_path / "t.toml"
    path.write_text(f"{key} = {toml_value}\n")
    with pytest.raises(st.ConfigError, match=re.escape(f"{path}: {key}: {message}")):
        st.load_config(path)


def test_every_setting_reaches_its_settings_field_from_a_flag_and_from_the_config_file(
        tmp_path: Path) -> None:
    fields = {f.name for f in dataclasses.fields(st.Settings)}
    assert {o.key for o in st.OPTIONS} <= fields
    path = tmp_path / "t.toml"
    path.write_text('interval = 90\nper_host = 2\ncontact = "mailto:a@b.test"\n'
                    'state = "~/s.json"\nmetrics = 9100\n')
    settings = st.settings_from_args(st.build_parser().parse_args(
        ["--config", str(path), "--per-host", "3", "--failure-threshold", "5"]))
    assert (settings.interval, settings.per_host, settings.failure_threshold,
            settings.contact, settings.serve) == (90.0, 3, 5, "mailto:a@b.test",
                                                    ("127.0.0.1", 9100))
    assert settings.state == Path("~/s.json").expanduser()


def test_a_flag_overrides_every_feeds_own_interval_from_the_config(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[[feeds]]\nname = 'A'\nurl = 'https://a.test/'\n"
                                  "interval = 30\n")
    args = st.build_parser().parse_args(["--config", str(path), "--interval", "5"])
    settings = st.settings_from_args(args)
    assert settings.interval == 5 and settings.feeds == [st.FeedConfig("A", "https://a.test/")]


def test_feed_names_go_through_the_same_sanitiser_as_feed_text() -> None:
    args = st.build_parser().parse_args(["--feed", "Evil\n[x] FAKE\x1b[31m\u202e=http://a.test/"])
    assert args.feed == [st.FeedConfig("Evil [x] FAKE", "http://a.test/")]


# --- Time bounds and outputs of the real CLI ---


async def start_cli(*args: str, stdout: int | None = asyncio.subprocess.PIPE,
                    prelude: str = "") -> asyncio.subprocess.Process:
    """The real CLI as a process; `prelude` runs first in it (to slow a function down)."""
    code = f"import sys, status_tracker as st\n{prelude}\nsys.exit(st.main(sys.argv[1:]))"
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args, cwd=HERE, stdout=stdout,
        stderr=asyncio.subprocess.PIPE)


async def stop_within(proc: asyncio.subprocess.Process, signum: int, seconds: float
                      ) -> tuple[int, str]:
    try:
        proc.send_signal(signum)
        assert proc.stderr is not None
        err = await asyncio.wait_for(proc.stderr.read(), seconds)
        return await asyncio.wait_for(proc.wait(), seconds), err.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(("signum", "exit_code"), [
    (signal.SIGTERM, 1), (signal.SIGINT, 130), (getattr(signal, "SIGHUP", 1), 1)])
async def test_once_stops_within_2_seconds_on_a_signal_while_a_feed_hangs(
        server: FeedServer, signum: int, exit_code: int) -> None:
    server.routes["/hang"] = Route(handler=slow_drip)
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    proc = await start_cli("--once", "--feed", f"Hang={server.url('/hang')}",
                           "--feed", f"OpenAI={server.url('/openai')}")
    assert proc.stdout is not None
    out = await read_until(proc.stdout, "Incident: Elevated error rates in ChatGPT")
    await wait_for_condition(lambda: bool(server.requests), 10)
    code, err = await stop_within(proc, signum, 2)
    assert code == exit_code and "Traceback" not in err
    assert "Hang: not read: stopped" in err and "OpenAI: not read" not in err
    assert out.count("Incident:") == 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_a_signal_during_a_long_parse_stops_the_cli_within_2_seconds(
        server: FeedServer) -> None:
    big = atom(*[statuspage_entry(n, f"Incident {n}", [RESOLVED]) for n in range(200)])
    assert len(big) > st.INLINE_PARSE_LIMIT
    server.routes["/big"] = Route(body=big)
    prelude = ("import time\n"
               "def slow(body):\n"
               "    print('parsing', file=sys.stderr, flush=True)\n"
               "    time.sleep(60)\n"
               "st.parse_feed = slow")
    proc = await start_cli("--interval", "0.5", "--feed", f"Big={server.url('/big')}",
                           prelude=prelude)
    assert proc.stderr is not None
    await read_until(proc.stderr, "parsing")
    code, err = await stop_within(proc, signal.SIGTERM, 2)
    assert code == 0 and "Traceback" not in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
async def test_cli_with_stdout_closed_still_delivers_every_event_to_webhooks(
        server: FeedServer) -> None:
    receiver = Receiver()
    server.routes["/hook"] = Route(handler=receiver)
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE, OPENAI_RESOLVED))
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `| head -0` would: every write gets EPIPE
    try:
        proc = await start_cli("--once", "--history", "2", "--webhook", server.url("/hook"),
                               "--feed", f"OpenAI={server.url('/openai')}", stdout=write_end)
    finally:
        os.close(write_end)
    assert proc.stderr is not None
    err = (await asyncio.wait_for(proc.stderr.read(), 30)).decode()
    assert await proc.wait() == 0, err
    assert receiver.events() == [("history", "Sora slow"),
                                 ("active", "Elevated error rates in ChatGPT")]
    assert err.count("stdout cannot be written (Broken pipe)") == 1
    assert "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes and signals")
async def test_cli_with_a_stdout_nobody_reads_keeps_delivering_and_stops_on_sigterm(
        server: FeedServer) -> None:
    receiver = Receiver()
    server.routes["/hook"] = Route(handler=receiver)
    entries = [incidentio_entry(f"01K{n:04d}", f"Incident number {n} " + "x" * 200,
                                "Investigating", "Still looking. " * 20) for n in range(300)]
    server.routes["/openai"] = Route(body=atom(*entries))
    read_end, write_end = os.pipe()  # nobody reads: 300 blocks fill the pipe's 64 KiB
    try:
        proc = await start_cli("--interval", "0.5", "--webhook", server.url("/hook"),
                               "--feed", f"OpenAI={server.url('/openai')}", stdout=write_end)
        await wait_for_condition(lambda: len(receiver.bodies) == 300, 30)
        code, err = await stop_within(proc, signal.SIGTERM, 2)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert code == 0 and "Traceback" not in err
    assert "stdout is not being read" in err


# --- Components, filters and maintenance: the Statuspage JSON API beside the feed ---


def api_update(status: str, body: str, at: str,
               affected: list[tuple[str, str, str]] | None = None) -> dict[str, Any]:
    """One incident_updates[] item; affected is (code, name, new_status) or None (as sent)."""
    return {"id": f"u{abs(hash((status, at))) % 10**8}", "status": status, "body": body,
            "created_at": at, "display_at": at, "updated_at": at,
            "affected_components": None if affected is None else [
                {"code": code, "name": name, "old_status": "operational", "new_status": new}
                for code, name, new in affected]}


def api_incident(code: str, name: str, impact: str, updates: list[dict[str, Any]],
                 components: list[tuple[str, str, str]], status: str = "investigating",
                 **extra: Any) -> dict[str, Any]:
    """One incidents[] item, updates given newest first as the API lists them."""
    return {"id": code, "name": name, "status": status, "impact": impact,
            "shortlink": f"https://stspg.example.test/{code}", "incident_updates": updates,
            "components": [{"id": cid, "name": cname, "status": cstatus, "group": False}
                           for cid, cname, cstatus in components],
            "reminder_intervals": "[]", **extra}  # a string where a list belongs, as sent


def api_body(key: str, *items: dict[str, Any]) -> bytes:
    return json.dumps({"page": {"id": "p1", "name": "Example"}, key: list(items)}).encode()


def maintenance(code: str, status: str, updates: list[dict[str, Any]]) -> dict[str, Any]:
    return api_incident(code, "Database upgrade", "maintenance", updates,
                        [("c-db", "Database", "under_maintenance")], status=status,
                        scheduled_for="2026-11-03T16:00:00.000Z",
                        scheduled_until="2026-11-03T17:00:00.000Z")


ACTIONS_DOWN = api_incident("code1", "Actions degraded", "major", [
    api_update("identified", "The cause is a bad deploy.", "2026-11-03T14:10:05.120Z",
               [("c-act", "Actions", "partial_outage")]),
    api_update("investigating", "We are investigating errors.", "2026-11-03T14:00:12.400Z",
               [("c-act", "Actions", "major_outage")]),
], [("c-act", "Actions", "partial_outage")])


def statuspage_site(server: FeedServer, feed: bytes, incidents: bytes | None = None,
                    maintenances: bytes | None = None) -> str:
    """A Statuspage page at the paths the real ones use; returns the feed URL."""
    def etag(body: bytes) -> dict[str, str]:
        return {"ETag": f'W/"{hashlib.sha256(body).hexdigest()[:12]}"'}

    incidents = incidents or api_body("incidents")
    maintenances = maintenances or api_body("scheduled_maintenances")
    server.routes["/history.atom"] = Route(body=feed, headers=etag(feed))
    server.routes["/api/v2/incidents.json"] = Route(body=incidents, headers=etag(incidents))
    server.routes["/api/v2/scheduled-maintenances.json"] = Route(
        body=maintenances, headers=etag(maintenances))
    return server.url("/history.atom")


def api_requests(server: FeedServer) -> list[str]:
    return [p for p, _ in server.requests if p.startswith("/api/")]


def test_api_bodies_are_read_defensively_and_group_prefixes_dropped() -> None:
    cloudflare = api_incident("cf1", "Gateway errors", "minor", [
        api_update("investigating", "Looking.", "2026-11-03T14:00:00Z",
                   [("c-gw", "Cloudflare Sites and Services - Gateway", "degraded_performance")]),
        api_update("update", "No components named here.", "2026-11-03T14:05:00Z"),
    ], [("c-gw", "Gateway", "degraded_performance")])
    odd = {"id": "odd", "impact": "catastrophic", "incident_updates": "none",
           "components": None, "name": "\x1b[31mRed\x1b[0m title"}
    body = json.dumps({"incidents": [cloudflare, odd, {"no": "id"}, "x"]}).encode()
    found = st.read_api_list(body, "incidents")
    assert list(found) == ["cf1", "odd"]
    assert [u.components for u in found["cf1"].updates] == [
        ("Gateway (Degraded performance)",), ()]
    odd_read = found["odd"]
    assert (odd_read.title, odd_read.impact, odd_read.updates) == ("Red title", None, ())
    for bad, why in [(b"<html>", "not JSON"), (b'{"incidents": {}}', "no 'incidents' list"),
                     (b"[1]", "no 'incidents' list")]:
        with pytest.raises(st.ApiShapeError, match=why):
            st.read_api_list(bad, "incidents")


def test_filters_match_component_names_ignoring_case_group_and_status() -> None:
    actions = incident(components=("CI - Actions (Major outage)",), impact="minor")
    unknown = incident(components=(), impact=None)
    only_actions = st.EventFilter(components=("actions", "API Requests"))
    assert only_actions.passes(actions) and only_actions.passes(unknown)
    assert not only_actions.passes(incident(components=("Pages (Degraded performance)",)))
    major = st.EventFilter(min_impact="major")
    assert not major.passes(actions) and major.passes(unknown)
    assert major.passes(incident(impact="critical")) and major.passes(incident(impact="major"))


async def test_statuspage_events_carry_the_components_and_impact_of_the_step_reported(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    url = statuspage_site(server, atom(statuspage_entry(1, "Actions degraded", [INVESTIGATING])),
                          api_body("incidents", ACTIONS_DOWN))
    spy = Spy()
    mon = monitor(session, url, spy)
    assert await mon.poll()
    [(kind, first)] = [(e.kind, e.incident) for e in spy.events]
    assert first is not None and (kind, first.components, first.impact) == (
        "active", ("Actions (Major outage)",), "major")
    assert sorted(api_requests(server)) == ["/api/v2/incidents.json",
                                            "/api/v2/scheduled-maintenances.json"]
    server.requests.clear()
    assert await mon.poll() and api_requests(server) == []  # a 304: the API is not asked

    server.routes["/history.atom"] = Route(body=atom(statuspage_entry(
        1, "Actions degraded", [IDENTIFIED, INVESTIGATING], updated="2026-11-03T14:10:30Z")),
        headers={"ETag": 'W/"f2"'})
    assert await mon.poll()
    update = spy.events[-1].incident
    assert update is not None and (update.status, update.components, update.updated) == (
        "Identified", ("Actions (Partial outage)",), datetime(2026, 11, 3, 14, 10, tzinfo=UTC))
    assert len(api_requests(server)) == 2  # at most two API requests per change
    body = json.loads(st.webhook_body("https://hooks.example.test/x", spy.events[-1]))
    assert (body["components"], body["impact"]) == (["Actions (Partial outage)"], "major")

    pages = api_incident("code2", "Pages slow", "minor", [api_update(
        "investigating", "Pages builds are slow.", "2026-11-03T14:00:00Z",
        [("c-pg", "Pages", "degraded_performance")])], [("c-pg", "Pages", "degraded_performance")])
    statuspage_site(server, atom(statuspage_entry(2, "Pages slow", [INVESTIGATING]),
                                 statuspage_entry(1, "Actions degraded",
                                                  [IDENTIFIED, INVESTIGATING],
                                                  updated="2026-11-03T14:10:30Z")),
                    api_body("incidents", pages, ACTIONS_DOWN))
    assert await mon.poll()
    new = spy.events[-1]
    assert new.kind == "new" and new.incident is not None
    assert (new.incident.components, new.incident.impact) == (
        ("Pages (Degraded performance)",), "minor")


@pytest.mark.parametrize("broken", [
    Route(status=500), Route(body=b"<html>maintenance</html>"), Route(body=b'{"incidents": 7}')])
async def test_an_api_that_fails_leaves_the_feed_events_going_out_at_once_said_once(
        server: FeedServer, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture,
        broken: Route) -> None:
    url = statuspage_site(server, atom(statuspage_entry(1, "Actions degraded", [INVESTIGATING])))
    server.routes["/api/v2/incidents.json"] = broken
    server.routes["/api/v2/scheduled-maintenances.json"] = broken
    clock = FakeClock()
    spy = Spy()
    mon = monitor(session, url, spy, clock=clock, interval=10, max_interval=30)
    assert await mon.poll()
    server.routes["/history.atom"] = Route(body=atom(statuspage_entry(
        1, "Actions degraded", [IDENTIFIED, INVESTIGATING])), headers={"ETag": 'W/"f2"'})
    server.requests.clear()
    assert await mon.poll()
    assert [(e.kind, e.incident.components if e.incident else ()) for e in spy.events] == [
        ("active", ()), ("updated", ())]
    assert api_requests(server) == []  # left alone for a while, not asked at every change
    # One line for the feed, not one per API document, nor one per change.
    assert caplog.text.count("events go out from the feed alone until it works again") == 1
    assert "/…/incidents.json: " in caplog.text or "/…/scheduled-maintenances.json: " in (
        caplog.text)

    # The API answers again: within --max-interval (30 s here) it is asked, on a quiet poll.
    statuspage_site(server, atom(statuspage_entry(
        1, "Actions degraded", [IDENTIFIED, INVESTIGATING])), api_body("incidents", ACTIONS_DOWN))
    server.routes["/history.atom"].headers = {"ETag": 'W/"f2"'}
    clock.mono += 29
    assert await mon.poll() and api_requests(server) == []
    clock.mono += 1
    assert await mon.poll() and mon.stats.not_modified == 2
    assert sorted(api_requests(server)) == ["/api/v2/incidents.json",
                                           "/api/v2/scheduled-maintenances.json"]
    assert caplog.text.count(f"status API http://127.0.0.1:{server.port}/… works again") == 1
    statuspage_site(server, atom(statuspage_entry(
        1, "Actions degraded", [MONITORING, IDENTIFIED, INVESTIGATING])),
        api_body("incidents", ACTIONS_DOWN))
    assert await mon.poll()
    assert spy.events[-1].incident is not None
    assert (spy.events[-1].incident.impact, spy.events[-1].incident.components) == (
        "major", ("Actions (Partial outage)",))


async def test_filters_leave_out_what_they_exclude_but_remember_it(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    pages = api_incident("code2", "Pages slow", "minor", [api_update(
        "investigating", "Pages builds are slow.", "2026-11-03T14:00:00Z",
        [("c-pg", "Pages", "degraded_performance")])], [("c-pg", "Pages", "degraded_performance")])
    unknown = statuspage_entry(3, "Something odd", [INVESTIGATING])  # not in the API body
    url = statuspage_site(server, atom(statuspage_entry(1, "Actions degraded", [INVESTIGATING]),
                                       statuspage_entry(2, "Pages slow", [INVESTIGATING]), unknown),
                          api_body("incidents", ACTIONS_DOWN, pages))
    for options, titles in [
        (st.EventFilter(components=("actions",)), ["Actions degraded", "Something odd"]),
        (st.EventFilter(min_impact="major"), ["Actions degraded", "Something odd"]),
        (st.EventFilter(components=("Pages",), min_impact="critical"), ["Something odd"]),
    ]:
        spy = Spy()
        mon = monitor(session, url, spy, options=st.FeedOptions(filter=options))
        assert await mon.poll()
        assert sorted(t for _, t in spy.kinds()) == titles
        assert len(mon.state.known) == 3  # filtered out, still known: clearing it is quiet
        unfiltered = monitor(session, url, spy, state=dataclasses.replace(
            mon.state, etag=None, fingerprint=None))
        assert await unfiltered.poll() and sorted(t for _, t in spy.kinds()) == titles


async def test_an_incidentio_feed_at_a_history_path_never_asks_a_statuspage_api(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    url = statuspage_site(server, atom(OPENAI_ACTIVE))
    assert await monitor(session, url, Spy()).poll()
    assert api_requests(server) == []


WINDOW_SCHEDULED = api_update("scheduled", "We will upgrade the database.",
                              "2026-11-03T12:00:00Z", [("c-db", "Database", "operational")])
WINDOW_STARTED = api_update("in_progress", "Upgrade under way.", "2026-11-03T16:00:00Z",
                            [("c-db", "Database", "under_maintenance")])
WINDOW_DONE = api_update("completed", "Done.", "2026-11-03T16:50:00Z",
                         [("c-db", "Database", "operational")])


async def test_maintenance_is_announced_scheduled_started_completed_once_each_across_restarts(
        tmp_path: Path, server: FeedServer) -> None:
    in_feed = statuspage_entry(9, "Database upgrade", [
        ("Nov 3, 12:00 UTC", "Scheduled", "We will upgrade the database.")])
    # An empty Statuspage feed: its feed-level id says what it is.
    statuspage_site(server, atom(feed_id="tag:status.example.test,2005:/history"),
                    maintenances=api_body("scheduled_maintenances"))
    settings = service_settings(tmp_path, server, feeds=[
        st.FeedConfig("Example", server.url("/history.atom"))], as_json=True)
    assert (await run_once(settings))[1] == ""  # first sight: nothing scheduled yet

    def serve(feed: bytes, *updates: dict[str, Any]) -> None:
        status = {"scheduled": "scheduled", "in_progress": "in_progress",
                  "completed": "completed"}[updates[0]["status"]]
        window = maintenance("code9", status, list(updates))
        statuspage_site(server, feed, maintenances=api_body("scheduled_maintenances", window))

    def events(out: str) -> list[tuple[str, str, list[str], str | None]]:
        return [(e["kind"], e["status"], e["components"], e.get("scheduled_for"))
                for e in map(json.loads, out.splitlines())]

    serve(atom(in_feed), WINDOW_SCHEDULED)  # scheduled: the history feed shows it too
    assert events((await run_once(settings))[1]) == [  # as maintenance, not as an incident
        ("maintenance_scheduled", "Scheduled", ["Database (Operational)"],
         "2026-11-03T16:00:00Z")]
    server.requests.clear()
    assert (await run_once(settings))[1] == ""  # nothing new: not said again
    assert api_requests(server) == []  # a quiet feed: the list was read under 10 minutes ago
    done = statuspage_entry(9, "Database upgrade", [
        ("Nov 3, 16:50 UTC", "Completed", "Done."),
        ("Nov 3, 16:00 UTC", "In progress", "Upgrade under way."),
        ("Nov 3, 12:00 UTC", "Scheduled", "We will upgrade the database.")])
    serve(atom(done), WINDOW_DONE, WINDOW_STARTED, WINDOW_SCHEDULED)  # both between runs
    assert [k for k, *_ in events((await run_once(settings))[1])] == [
        "maintenance_started", "maintenance_completed"]
    assert (await run_once(settings))[1] == ""


async def test_a_feeds_component_filter_applies_to_its_maintenance_windows(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    api_window = dict(maintenance("code8", "scheduled", [api_update(
        "scheduled", "We will move the API.", "2026-11-03T12:00:00Z",
        [("c-api", "API", "operational")])]), name="API move",
        components=[{"id": "c-api", "name": "API", "status": "operational"}])
    url = statuspage_site(server, atom(feed_id="tag:status.example.test,2005:/history"),
                          maintenances=api_body("scheduled_maintenances", api_window,
                                                maintenance("code9", "scheduled",
                                                            [WINDOW_SCHEDULED])))
    state = st.FeedState(first_sight=False, statuspage=True, maintenances={})
    spy = Spy()
    options = st.FeedOptions(filter=st.EventFilter(components=("API",)))
    assert await monitor(session, url, spy, state=state, options=options).poll()
    assert spy.kinds() == [("maintenance_scheduled", "API move")]


async def test_muted_maintenance_is_not_reported_at_all(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    in_feed = statuspage_entry(9, "Database upgrade", [
        ("Nov 3, 16:00 UTC", "In progress", "Upgrade under way.")])
    url = statuspage_site(server, atom(in_feed), maintenances=api_body(
        "scheduled_maintenances", maintenance("code9", "in_progress",
                                              [WINDOW_STARTED, WINDOW_SCHEDULED])))
    spy = Spy()
    assert await monitor(session, url, spy).poll()
    assert spy.kinds() == [("maintenance_started", "Database upgrade")]
    muted = Spy()
    assert await monitor(session, url, muted,
                         options=st.FeedOptions(maintenance=False)).poll()
    assert muted.kinds() == []


def test_feed_api_and_filter_keys_in_the_config_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, """
[[feeds]]
name = "GitHub"
url = "https://www.githubstatus.com/history.atom"
components = ["Actions", "API Requests"]
min_impact = "major"
maintenance = false

[[feeds]]
name = "Mirror"
url = "https://status.example.test/feed"
api_url = "https://status.example.test"
""")
    github, mirror = st.settings_from_args(st.build_parser().parse_args(
        ["--config", str(path)])).feeds
    assert github.options == st.FeedOptions(
        filter=st.EventFilter(("Actions", "API Requests"), "major"), maintenance=False)
    assert mirror.options == st.FeedOptions(api_url="https://status.example.test")
    flagged = st.settings_from_args(st.build_parser().parse_args(
        ["--config", str(path), "--component", "Pages", "--min-impact", "critical"])).feeds
    assert [f.options.filter for f in flagged] == [st.EventFilter(("Pages",), "critical")] * 2
    assert st.api_base("https://www.githubstatus.com/history.atom") == (
        "https://www.githubstatus.com")
    assert st.api_base("https://status.example.test/pages/x/history.rss") == (
        "https://status.example.test/pages/x")
    assert st.api_base("https://status.openai.com/feed.atom") is None


@pytest.mark.parametrize(("text", "message"), [
    ("api = 'sometimes'", "feeds[0].api: expected \"auto\" or \"off\""),
    ("api_url = 'ftp://x'", "feeds[0].api_url: not an http(s) URL"),
    ("components = 'Actions'", "feeds[0].components: expected a list of component names"),
    ("min_impact = 'huge'", "feeds[0].min_impact: expected one of none, minor, major, critical"),
    ("maintenance = 'no'", "feeds[0].maintenance: expected true or false"),
])
def test_a_bad_feed_option_names_the_feed_and_key(tmp_path: Path, text: str, message: str
                                                  ) -> None:
    path = write_config(tmp_path, f"[[feeds]]\nname = 'A'\nurl = 'https://a.test/'\n{text}\n")
    with pytest.raises(st.ConfigError, match=re.escape(message)):
        st.load_config(path)


def board_site(server: FeedServer) -> None:
    window = maintenance("code9", "scheduled", [WINDOW_SCHEDULED])
    summary = {"page": {}, "components": [
        {"id": "grp", "name": "Compute", "status": "partial_outage", "group": True},
        {"id": "c-act", "name": "Actions", "status": "partial_outage", "group": False},
        {"id": "c-git", "name": "Git Operations", "status": "operational"}],
        "incidents": [ACTIONS_DOWN], "scheduled_maintenances": [window]}
    statuspage_site(server, atom(statuspage_entry(1, "Actions degraded", [INVESTIGATING]),
                                 feed_id="tag:status.example.test,2005:/history"))
    server.routes["/api/v2/summary.json"] = Route(body=json.dumps(summary).encode())
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE, OPENAI_RESOLVED))
    server.routes["/quiet"] = Route(body=atom(OPENAI_RESOLVED))
    server.routes["/broken"] = Route(status=503, body=b"down")


async def test_status_board_prints_every_provider_worst_first_and_exits_1_on_a_failed_read(
        server: FeedServer) -> None:
    board_site(server)
    code, out, err = await run_cli(
        "--status", "--feed", f"Quiet={server.url('/quiet')}",
        "--feed", f"OpenAI={server.url('/openai')}",
        "--feed", f"GitHub={server.url('/history.atom')}",
        "--feed", f"Broken={server.url('/broken')}")
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0] == "Broken  feed failing: HTTP 503"
    assert lines[1:4] == ["GitHub  major", "  component    Actions: Partial outage",
                          lines[3]]  # the age depends on today's date
    assert re.fullmatch(r"  incident     Actions degraded \(Investigating, major, \d+ days\)",
                        lines[3])
    assert "Database upgrade" not in out  # its window is long over
    assert lines[4].startswith("OpenAI  incident") and lines[-1] == "Quiet   operational"
    assert "\x1b" not in out  # no colour when stdout is not a terminal


async def test_status_board_as_json_and_in_colour_only_where_asked(server: FeedServer) -> None:
    board_site(server)
    window = maintenance("code9", "scheduled", [WINDOW_SCHEDULED])
    soon, after = ((NOW + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
                   for days in (2, 3))
    window["scheduled_for"], window["scheduled_until"] = soon, after  # due within 7 days
    server.routes["/api/v2/summary.json"] = Route(body=json.dumps({
        "incidents": [], "components": [], "scheduled_maintenances": [window]}).encode())
    settings = st.Settings(feeds=[st.FeedConfig("GitHub", server.url("/history.atom"))],
                           status=True, as_json=True)
    out = io.StringIO()
    assert await st.run_status(settings, clock=FixedWall(), stdout=out) == 0
    [github] = json.loads(out.getvalue())["feeds"]
    assert github == {
        "feed": "GitHub", "level": "incident", "error": None, "api_error": None,
        "watcher_failures": 0, "components": [],
        "incidents": [{"id": "tag:status.example.test,2005:Incident/1", "code": "code1",
                       "title": "Actions degraded", "status": "Investigating", "impact": None,
                       "components": [], "link": "https://status.example.test/incidents/code1",
                       "since": "2026-11-03T14:00:00Z"}],
        "maintenance": [{"title": "Database upgrade", "status": "Scheduled",
                         "link": "https://stspg.example.test/code9", "scheduled_for": soon,
                         "scheduled_until": after}]}
    settings.as_json = False
    coloured = io.StringIO()
    assert await st.run_status(settings, clock=FixedWall(), stdout=coloured, colour=True) == 0
    assert coloured.getvalue().startswith("GitHub  \x1b[33mincident\x1b[0m\n")


def test_odd_values_in_an_api_body_spoil_only_their_own_item() -> None:
    good = ACTIONS_DOWN
    odd_ids = api_incident("code2", "Odd", "minor", [api_update(
        "investigating", "x", "2026-11-03T14:00:00Z", [("c1", "A", "partial_outage")])],
        [("c1", "A", "partial_outage")])
    odd_ids["components"][0]["id"] = ["c1"]  # unhashable where an id belongs
    odd_ids["incident_updates"][0]["affected_components"][0]["code"] = {"x": 1}
    odd_ids["incident_updates"][0]["affected_components"][0]["new_status"] = None
    overflow = maintenance("m\u202e1\x9b2J", "scheduled", [WINDOW_SCHEDULED])
    overflow["scheduled_for"] = "0001-01-01T00:00:00+01:00"
    found = st.read_api_list(json.dumps({"incidents": [good, odd_ids, overflow]}).encode(),
                             "incidents")
    assert found["code1"].components == ("Actions (Partial outage)",)
    assert found["code2"].updates[0].components == ("A",)  # no status: the name alone
    [window] = [w for c, w in found.items() if c.startswith("m")]
    assert window.code == "m 1" and window.scheduled_for is None  # printable, no overflow


@pytest.mark.parametrize(("wanted", "label", "matches"), [
    ("Claude API (api.anthropic.com)", "Claude API (api.anthropic.com) (Partial outage)", True),
    ("Claude API", "Claude API (api.anthropic.com) (Partial outage)", True),
    ("San Jose, CA, United States - (SJC)", "San Jose, CA, United States - (SJC) (Operational)",
     True),
    ("Gateway", "Cloudflare Sites and Services - Gateway (Degraded performance)", True),
    ("gateway", "Gateway", True),
    ("API", "API Requests (Major outage)", False),
    ("Actions", "Pages (Major outage)", False),
])
def test_component_filters_match_real_names(wanted: str, label: str, matches: bool) -> None:
    assert st.component_matches(wanted, label) is matches


async def test_a_maintenance_the_api_cannot_place_is_reported_from_the_feed(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    in_feed = statuspage_entry(9, "Database upgrade", [
        ("Nov 3, 16:00 UTC", "In progress", "Upgrade under way.")])
    renamed = maintenance("code9", "upcoming", [WINDOW_SCHEDULED])  # a status never seen
    url = statuspage_site(server, atom(in_feed), maintenances=api_body(
        "scheduled_maintenances", renamed))
    spy = Spy()
    assert await monitor(session, url, spy).poll()
    assert spy.kinds() == [("active", "Database upgrade")]  # never silently dropped


async def test_while_the_maintenance_list_fails_the_feed_says_the_phase_once(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    scheduled = statuspage_entry(9, "Database upgrade", [
        ("Nov 3, 12:00 UTC", "Scheduled", "We will upgrade the database.")])
    url = statuspage_site(server, atom(scheduled), maintenances=api_body(
        "scheduled_maintenances", maintenance("code9", "scheduled", [WINDOW_SCHEDULED])))
    spy, clock = Spy(), FakeClock()
    state = st.FeedState()
    mon = monitor(session, url, spy, state=state, clock=clock)
    assert await mon.poll() and spy.kinds() == [("maintenance_scheduled", "Database upgrade")]
    started = statuspage_entry(9, "Database upgrade", [
        ("Nov 3, 16:00 UTC", "In progress", "Upgrade under way."),
        ("Nov 3, 12:00 UTC", "Scheduled", "We will upgrade the database.")])
    statuspage_site(server, atom(started))
    server.routes["/api/v2/scheduled-maintenances.json"] = Route(status=503)
    assert await mon.poll()
    assert spy.kinds()[-1] == ("updated", "Database upgrade")  # from the feed, at once
    statuspage_site(server, atom(started, OPENAI_RESOLVED), maintenances=api_body(
        "scheduled_maintenances", maintenance("code9", "in_progress",
                                              [WINDOW_STARTED, WINDOW_SCHEDULED])))
    clock.mono += st.API_RETRY
    assert await mon.poll()
    assert [k for k, _ in spy.kinds()].count("maintenance_started") == 0  # said already


def test_a_maintenance_list_that_goes_backwards_repeats_nothing() -> None:
    def windows(status: str) -> dict[str, st.ApiIncident]:
        return st.read_api_list(api_body("scheduled_maintenances", maintenance(
            "m1", status, [WINDOW_SCHEDULED])), "scheduled_maintenances")

    known: dict[str, tuple[st.Phase, datetime]] | None = None
    said = []
    for status in ("scheduled", "in_progress", "completed", "in_progress", "completed"):
        events, known = st.maintenance_events(known if known is not None else {},
                                              windows(status), now=NOW)
        said += [kind for kind, _ in events]
    assert said == ["maintenance_scheduled", "maintenance_started", "maintenance_completed"]


async def test_a_first_read_of_a_list_with_a_finished_window_only_remembers_it(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    # Statuspage lists past windows too: the first read says what is under way or ahead.
    done, running, ahead = (maintenance(code, status, updates) for code, status, updates in (
        ("m-done", "completed", [WINDOW_DONE, WINDOW_STARTED, WINDOW_SCHEDULED]),
        ("m-now", "in_progress", [WINDOW_STARTED, WINDOW_SCHEDULED]),
        ("m-ahead", "scheduled", [WINDOW_SCHEDULED])))
    url = statuspage_site(server, atom(statuspage_entry(1, "Actions degraded", [INVESTIGATING])),
                          api_body("incidents", ACTIONS_DOWN),
                          api_body("scheduled_maintenances", done, running, ahead))
    spy = Spy()
    mon = monitor(session, url, spy)
    assert await mon.poll() and mon.failing_reason is None
    assert sorted((e.kind, e.incident.id) for e in spy.events if e.incident) == [
        ("active", "tag:status.example.test,2005:Incident/1"),
        ("maintenance_scheduled", "m-ahead"), ("maintenance_started", "m-now")]
    assert st.maintenance_events(None, st.read_api_list(api_body(
        "scheduled_maintenances", done), "scheduled_maintenances"), now=NOW)[0] == []


async def test_a_missing_maintenance_list_leaves_the_incident_components_alone(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    url = statuspage_site(server, atom(statuspage_entry(1, "Actions degraded", [INVESTIGATING])),
                          api_body("incidents", ACTIONS_DOWN))
    server.routes["/api/v2/scheduled-maintenances.json"] = Route(status=404)
    spy = Spy()
    assert await monitor(session, url, spy).poll()
    [event] = spy.events
    assert event.incident is not None and event.incident.impact == "major"


@pytest.mark.parametrize("feed", [
    '{"incidents": {}, "maintenances": {"m1": ["scheduled", 1e20]}}',
    '{"incidents": {}, "entries": 1e400}',
    '{"incidents": {}, "maintenances_tried": Infinity}',
])
def test_a_state_file_with_numbers_out_of_range_is_set_aside(tmp_path: Path, feed: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(f'{{"version": 1, "feeds": {{"http://a.test/": {feed}}}}}')
    st.StateStore(path, clock=FakeClock()).load()
    assert [p.name.startswith("state.json.bad-") for p in tmp_path.iterdir()] == [True]


@pytest.mark.parametrize("held", [
    '{"since": 1e400, "events": []}',
    '{"since": 1, "events": [{"kind": "new"}]}',  # no feed, no incident: cannot come back
])
def test_held_events_that_cannot_come_back_set_the_state_file_aside(tmp_path: Path, held: str
                                                                    ) -> None:
    """Else the route's sender would fail on them at the end of the quiet hours, and again
    at every start."""
    path = tmp_path / "state.json"
    path.write_text(f'{{"version": 1, "feeds": {{}}, "held": {{"https://h.test/x": {held}}}}}')
    store = st.StateStore(path, clock=FakeClock())
    store.load()
    assert store.outboxes == {}
    assert [p.name.startswith("state.json.bad-") for p in tmp_path.iterdir()] == [True]


def test_the_status_board_never_changes_the_state_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 99, "feeds": {}}')
    (tmp_path / ".state.json.abc.tmp").write_text("a running tracker's write in flight")
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    st.main(["--status", "--state", str(path), "--feed", "X=http://127.0.0.1:9/feed"])
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before
    assert "written by a newer status_tracker" in capsys.readouterr().err


async def test_one_hostile_source_spoils_only_its_own_line_of_the_board(
        server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    board_site(server)
    server.routes["/bad"] = Route(body=atom(incidentio_entry(
        "01KBAD", "Bad title", "Investigating", "m")))
    real_parse = st.parse_feed

    def parser_with_a_bug(body: bytes) -> list[st.Incident]:
        if b"01KBAD" in body:
            raise ValueError("chr() arg not in range(0x110000)")  # what odd input once did
        return real_parse(body)

    monkeypatch.setattr(st, "parse_feed", parser_with_a_bug)
    server.routes["/api/v2/summary.json"] = Route(body=json.dumps({
        "incidents": [], "components": [{"id": ["x"], "name": "A", "status": "major_outage"}],
        "scheduled_maintenances": []}).encode())
    settings = st.Settings(feeds=[st.FeedConfig("GitHub", server.url("/history.atom")),
                                  st.FeedConfig("Bad", server.url("/bad")),
                                  st.FeedConfig("Quiet", server.url("/quiet"))], status=True)
    out = io.StringIO()
    assert await st.run_status(settings, clock=FixedWall(), stdout=out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == ("Bad     feed failing: internal error while reading: ValueError: chr() "
                        "arg not in range(0x110000)")
    assert "Quiet   operational" in lines and any(ln.startswith("GitHub ") for ln in lines)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(("signum", "exit_code"), [
    (signal.SIGTERM, 1), (signal.SIGINT, 130), (getattr(signal, "SIGHUP", 1), 1)])
async def test_a_status_board_stopped_early_prints_the_pages_read_and_says_so(
        server: FeedServer, signum: int, exit_code: int) -> None:
    server.routes["/hang"] = Route(handler=slow_drip)
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE))
    proc = await start_cli("--status", "--feed", f"Hang={server.url('/hang')}",
                           "--feed", f"OpenAI={server.url('/openai')}")
    await wait_for_condition(lambda: {p for p, _ in server.requests} == {"/hang", "/openai"}, 10)
    code, err = await stop_within(proc, signum, 2)
    assert proc.stdout is not None
    out = (await proc.stdout.read()).decode()
    assert code == exit_code and "Traceback" not in err, err
    assert out.splitlines() == [
        "Hang    not read: stopped", "OpenAI  incident",
        "  component    Conversations: Degraded performance",
        out.splitlines()[3]]  # the incident's age depends on today's date
    assert out.splitlines()[3].startswith("  incident     Elevated error rates in ChatGPT")


async def test_the_readme_example_pages_give_enriched_events_and_a_board(
        example_pages: tuple[str, Any]) -> None:
    base, _ = example_pages
    code, out, err = await run_cli("--once", "--feed", f"GitHub={base}/github/history.atom")
    assert code == 0, err
    assert "Event:    Maintenance scheduled" in out and "Impact:   major" in out
    assert "Product: GitHub - Actions (Major outage)" in out
    code, out, _ = await run_cli("--status", "--feed", f"GitHub={base}/github/history.atom",
                                 "--feed", f"Broken={base}/broken/feed.atom")
    assert code == 1 and out.splitlines()[:2] == [
        "Broken  feed failing: HTTP 503", "GitHub  major"]


# --- Other platforms' JSON documents: one test per shape ---


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def read_doc(data: object, source: str = "https://status.example.test/doc.json",
             now: datetime = NOW) -> st.PageDoc:
    return st.read_document(json.dumps(data).encode(), source, now)


def test_instatus_summary_gives_open_incidents_and_windows_and_components_their_states(
        ) -> None:
    started = NOW - timedelta(minutes=30)
    js_date = started.strftime("%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)")
    doc = read_doc({
        "page": {"name": "Example", "url": "https://status.example.test", "status": "HASISSUES"},
        "activeIncidents": [{"id": "ck1", "name": "API errors", "started": js_date,
                             "status": "IDENTIFIED", "impact": "PARTIALOUTAGE",
                             "url": "https://status.example.test/incident/ck1"}],
        "activeMaintenances": [{"id": "mk1", "name": "Database move", "start": iso(
            NOW + timedelta(days=1)), "status": "NOTSTARTEDYET", "duration": "90",
            "url": "https://status.example.test/maintenance/mk1"}]})
    [inc] = doc.incidents
    assert (doc.platform, inc.id, inc.title, inc.status, inc.impact, inc.published) == (
        "instatus", "ck1", "API errors", "Identified", "major", started)
    assert [s.status for s in inc.steps] == ["Identified"] and inc.active
    window = doc.windows and doc.windows["mk1"]
    assert window and (window.status, window.scheduled_for, window.scheduled_until) == (
        "scheduled", NOW + timedelta(days=1), NOW + timedelta(days=1, minutes=90))
    components = read_doc({"components": [
        {"id": "c1", "name": "API", "status": "MAJOROUTAGE", "group": None},
        {"id": "c2", "name": "Web", "status": "OPERATIONAL", "group": {"name": "Apps"}}]})
    assert components.components == [st.Component("API", "major_outage"),
                                      st.Component("Web", "operational", "Apps")]


def better_stack_index(*, resolved: bool, updates: int) -> dict[str, Any]:
    report_updates = [{"id": f"u{n}", "type": "status_update", "attributes": {
        "message": f"Update {n} on the API", "published_at": iso(NOW - timedelta(minutes=40 - n)),
        "affected_resources": []}} for n in range(updates)]
    return {
        "data": {"id": "1", "type": "status_page", "attributes": {
            "company_name": "Example", "custom_domain": "status.example.test",
            "aggregate_state": "downtime"}},
        "included": [
            {"id": "s1", "type": "status_page_section", "attributes": {"name": "Core"}},
            {"id": "r1", "type": "status_page_resource", "attributes": {
                "status_page_section_id": "s1", "public_name": "API", "status": "downtime"}},
            {"id": "r2", "type": "status_page_resource", "attributes": {
                "status_page_section_id": "s1", "public_name": "Dashboard",
                "status": "operational"}},
            {"id": "rep1", "type": "status_report", "attributes": {
                "title": "API down", "report_type": "manual",
                "starts_at": iso(NOW - timedelta(minutes=45)),
                "ends_at": iso(NOW - timedelta(minutes=1)) if resolved else None,
                "affected_resources": [{"status_page_resource_id": "r1", "status": "downtime"}],
                "aggregate_state": "resolved" if resolved else "downtime"},
             "relationships": {"status_updates": {"data": [
                 {"id": u["id"], "type": "status_update"} for u in reversed(report_updates)]}}},
            {"id": "rep2", "type": "status_report", "attributes": {
                "title": "Network work", "report_type": "maintenance",
                "starts_at": iso(NOW - timedelta(hours=1)),
                "ends_at": iso(NOW + timedelta(hours=1)),
                "affected_resources": [{"status_page_resource_id": "r2",
                                        "status": "maintenance"}]}},
            *report_updates]}


def test_better_stack_reports_are_incidents_with_their_updates_and_maintenance_windows() -> None:
    doc = read_doc(better_stack_index(resolved=False, updates=2))
    [inc] = doc.incidents
    assert (inc.id, inc.title, inc.status, inc.impact, inc.link) == (
        "rep1", "API down", "Ongoing", "major", "https://status.example.test/")
    assert inc.components == ("API (Major outage)",)
    assert [s.message for s in inc.steps] == ["Update 0 on the API", "Update 1 on the API"]
    assert doc.components == [st.Component("API", "major_outage", "Core"),
                              st.Component("Dashboard", "operational", "Core")]
    assert doc.windows and doc.windows["rep2"].status == "in_progress"
    resolved = read_doc(better_stack_index(resolved=True, updates=3))
    assert resolved.incidents[0].status == "Resolved" and not resolved.incidents[0].active


def test_status_io_components_with_containers_incidents_and_maintenance() -> None:
    doc = read_doc({"result": {
        "status_overall": {"status": "Degraded Performance", "status_code": 300},
        "status": [{"id": "c1", "name": "Git", "status_code": 300, "containers": [
            {"id": "k1", "name": "us-east", "status_code": 300},
            {"id": "k2", "name": "eu-west", "status_code": 100}]},
            {"id": "c2", "name": "Website", "status_code": 100, "containers": []}],
        "incidents": [{"_id": "i1", "name": "Slow pushes", "datetime_open": iso(
            NOW - timedelta(minutes=20)), "components_affected": [{"_id": "c1", "name": "Git"}],
            "messages": [{"details": "Looking into slow pushes.", "state": 100, "status": 300,
                          "datetime": iso(NOW - timedelta(minutes=20))},
                         {"details": "Cause found.", "state": 200, "status": 300,
                          "datetime": iso(NOW - timedelta(minutes=5))}]}],
        "maintenance": {"active": [], "upcoming": [{"_id": "m1", "name": "Upgrade",
            "datetime_planned_start": iso(NOW + timedelta(days=2)),
            "datetime_planned_end": iso(NOW + timedelta(days=2, hours=2)),
            "messages": [{"details": "We will upgrade.", "state": 100, "status": 200,
                          "datetime": iso(NOW)}], "components_affected": []}]}}},
        source="https://status.example.test/1.0/status/abc")
    [inc] = doc.incidents
    assert (inc.id, inc.status, inc.message, inc.components, inc.impact) == (
        "i1", "Identified", "Cause found.", ("Git",), "minor")
    assert [s.status for s in inc.steps] == ["Investigating", "Identified"]
    assert doc.components == [st.Component("Git (us-east)", "degraded_performance", "Git"),
                              st.Component("Git (eu-west)", "operational", "Git"),
                              st.Component("Website", "operational")]
    assert doc.windows and doc.windows["m1"].status == "scheduled"
    assert doc.windows["m1"].updates[0].body == "We will upgrade."


def test_google_cloud_incidents_json_gives_products_locations_and_every_update() -> None:
    begin = NOW - timedelta(hours=3)
    doc = read_doc([{
        "id": "gc1", "number": "1", "begin": iso(begin), "created": iso(begin), "end": None,
        "modified": iso(NOW), "external_desc": "Errors in Vertex AI", "severity": "medium",
        "status_impact": "SERVICE_DISRUPTION", "uri": "incidents/gc1",
        "affected_products": [{"title": "Vertex Gemini API", "id": "p1"}],
        "currently_affected_locations": [{"id": "us-central1", "title": "Iowa (us-central1)"}],
        "updates": [
            {"created": iso(NOW - timedelta(hours=1)), "when": iso(NOW - timedelta(hours=1)),
             "status": "SERVICE_DISRUPTION", "text": "Mitigation **under way**.\\\nMore soon.",
             "affected_locations": [{"id": "us-central1", "title": "Iowa (us-central1)"}]},
            {"created": iso(begin), "when": iso(begin), "status": "SERVICE_INFORMATION",
             "text": "We are investigating.", "affected_locations": []}]}],
        source="https://status.cloud.google.com/incidents.json")
    [inc] = doc.incidents
    assert (inc.id, inc.title, inc.impact, inc.components, inc.published) == (
        "gc1", "Errors in Vertex AI", "major", ("Vertex Gemini API",), begin)
    assert inc.link == "https://status.cloud.google.com/incidents/gc1"
    assert [s.status for s in inc.steps] == ["Service information", "Service disruption"]
    assert inc.status == "Service disruption" and inc.active
    assert inc.message == ("Mitigation **under way**. More soon. "
                           "Locations: Iowa (us-central1).")


def aws_event(log: int, *, resolved: bool = False) -> dict[str, Any]:
    start = int((NOW - timedelta(hours=1)).timestamp())
    return {
        "date": str(start), "region_name": "N. Virginia", "status": "0" if resolved else "2",
        "arn": "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/EV_1",
        "service": "ec2-us-east-1", "service_name": "Amazon EC2",
        "summary": ("[RESOLVED] " if resolved else "") + "Increased launch errors",
        "event_log": [{"summary": "Increased launch errors", "status": 2,
                       "message": f"Update {n}.", "timestamp": start + 600 * n}
                      for n in range(log)],
        "impacted_services": {"ec2-us-east-1": {"service_name": "Amazon EC2",
                                                "current": "0" if resolved else "2",
                                                "max": "2"}},
        **({"end_time": str(start + 3600)} if resolved else {})}


def test_aws_current_events_in_utf16_give_services_in_their_regions() -> None:
    body = json.dumps([aws_event(2)]).encode("utf-16")  # with its byte order mark, as AWS
    doc = st.read_document(st.as_utf8(body), "https://health.aws.amazon.com/x", NOW)
    [inc] = doc.incidents
    assert (inc.id, inc.title, inc.status, inc.impact) == (
        "EV_1", "Increased launch errors", "Degraded", "major")
    assert inc.components == ("Amazon EC2 (us-east-1) (Degraded performance)",)
    assert [s.message for s in inc.steps] == ["Update 0.", "Update 1."]
    resolved = read_doc([aws_event(3, resolved=True)]).incidents[0]
    assert (resolved.title, resolved.status, resolved.active) == (
        "Increased launch errors", "Resolved", False)
    # One event whose services are not a mapping spoils only its own components and impact.
    odd = {**aws_event(2), "impacted_services": ["ec2-us-east-1"]}
    [inc] = read_doc([odd]).incidents
    assert (inc.components, inc.impact) == ((), "major")  # the event's own status says it


def test_slack_current_gives_incidents_with_notes_and_maintenance_as_windows() -> None:
    pacific = timezone(timedelta(hours=-7))
    created = (NOW - timedelta(hours=1)).astimezone(pacific).isoformat()
    doc = read_doc({"status": "active", "active_incidents": [
        {"id": "546", "title": "Messages delayed", "type": "outage", "status": "active",
         "url": "https://slack-status.example.test/546", "services": ["Messaging"],
         "date_created": created, "notes": [{"date_created": created,
                                             "body": "We're on it.\r\nMore soon."}]},
        {"id": 547, "title": "Planned work", "type": "notice", "status": "scheduled",
         "services": [], "date_created": created, "notes": []},
        {"id": 548, "title": "Called off", "type": "notice", "status": "cancelled",
         "services": [], "date_created": created, "notes": []}]})
    [inc] = doc.incidents  # the cancelled maintenance is neither open nor due
    assert (inc.id, inc.status, inc.impact, inc.components, inc.message, inc.published) == (
        "546", "Active", "major", ("Messaging",), "We're on it. More soon.",
        NOW - timedelta(hours=1))
    assert doc.windows and list(doc.windows) == ["547"]
    assert doc.windows["547"].status == "scheduled"


def test_cachet_incidents_and_components() -> None:
    doc = read_doc({"meta": {"pagination": {"total": 2}}, "data": [
        {"id": 7, "component_id": 0, "name": "Queue backlog", "status": 2, "visible": 1,
         "message": "Found the cause.", "human_status": "Identified",
         "created_at": "2026-11-03 14:00:00", "updated_at": "2026-11-03 14:30:00"},
        {"id": 8, "name": "Hidden", "status": 1, "visible": 0, "human_status": "Investigating",
         "message": "", "created_at": "2026-11-03 14:00:00"}]},
        source="https://status.example.test/api/v1/incidents")
    [inc] = doc.incidents
    assert (inc.id, inc.title, inc.status, inc.message, inc.link, inc.updated) == (
        "7", "Queue backlog", "Identified", "Found the cause.",
        "https://status.example.test/incidents/7", NOW - timedelta(minutes=30))
    fixed = read_doc({"data": [{"id": 7, "name": "Queue backlog", "status": 4,
                                "human_status": "Fixed", "message": "Done.",
                                "updated_at": "2026-11-03 15:00:00"}]}).incidents[0]
    assert not fixed.active
    components = read_doc({"data": [{"id": 1, "name": "API", "status": 3,
                                     "status_name": "Partial Outage", "group_id": 0}]})
    assert components.components == [st.Component("API", "partial_outage")]


def test_sorry_notices_and_components() -> None:
    doc = read_doc({"notices": [
        {"id": 1, "type": "unplanned", "state": "identified", "subject": "Login errors",
         "synopsis": "Some logins fail.", "began_at": iso(NOW - timedelta(minutes=10)),
         "link": "https://status.example.test/notices/1"},
        {"id": 2, "type": "planned", "state": "scheduled", "subject": "Upgrade",
         "synopsis": "An hour of work.", "begins_at": iso(NOW + timedelta(days=1)),
         "ends_at": iso(NOW + timedelta(days=1, hours=1))}]})
    [inc] = doc.incidents
    assert (inc.id, inc.title, inc.status, inc.message) == (
        "1", "Login errors", "Identified", "Some logins fail.")
    assert doc.windows and doc.windows["2"].scheduled_for == NOW + timedelta(days=1)
    components = read_doc({"components": [
        {"id": 1, "state": "degraded", "name": "App", "parent_id": None},
        {"id": 2, "state": "operational", "name": "Login", "parent_id": 1}],
        "meta": {"count": 2}})
    assert components.components == [st.Component("App", "degraded_performance"),
                                      st.Component("Login", "operational", "App")]


def test_salesforce_trust_incidents_and_planned_maintenance() -> None:
    doc = read_doc({"key": "NA1", "status": "MAJOR_INCIDENT_CORE", "Incidents": [{
        "id": 42, "createdAt": iso(NOW - timedelta(hours=1)), "serviceKeys": ["Core"],
        "IncidentImpacts": [{"startTime": iso(NOW - timedelta(hours=1)), "endTime": None,
                             "severity": "major"}],
        "IncidentEvents": [
            {"type": "update", "message": "Restarts done.\\nWatching.",
             "createdAt": iso(NOW - timedelta(minutes=5))},
            {"type": "update", "message": "Logins fail on NA1.",
             "createdAt": iso(NOW - timedelta(minutes=50))}]}],
        "Maintenances": [{"id": 9, "name": "Release", "plannedStartTime": iso(
            NOW + timedelta(days=3)), "plannedEndTime": iso(NOW + timedelta(days=3, hours=4)),
            "additionalInformation": "Storefronts restart."}]})
    [inc] = doc.incidents
    assert (inc.id, inc.title, inc.status, inc.impact, inc.message) == (
        "42", "Core: Logins fail on NA1.", "Ongoing", "major", "Restarts done. Watching.")
    assert doc.windows and doc.windows["9"].status == "scheduled"


def test_statuspage_json_read_directly_gives_every_update_as_a_step() -> None:
    doc = read_doc(statuspage_summary_doc())
    [inc] = doc.incidents
    assert (inc.id, inc.status, inc.impact) == ("sp1", "Identified", "major")
    assert [s.status for s in inc.steps] == ["Investigating", "Identified"]
    assert doc.components == [st.Component("Actions", "partial_outage", "CI"),
                              st.Component("Pages", "operational")]


def statuspage_summary_doc() -> dict[str, Any]:
    return {"page": {"id": "p", "name": "Example"}, "components": [
        {"id": "g", "name": "CI", "status": "partial_outage", "group": True},
        {"id": "a", "name": "Actions", "status": "partial_outage", "group_id": "g"},
        {"id": "b", "name": "Pages", "status": "operational", "group_id": None}],
        "incidents": [{"id": "sp1", "name": "Actions slow", "status": "identified",
                       "impact": "major", "shortlink": "https://stspg.example.test/sp1",
                       "incident_updates": [
                           {"id": "u2", "status": "identified", "body": "Cause found.",
                            "created_at": iso(NOW - timedelta(minutes=5))},
                           {"id": "u1", "status": "investigating", "body": "Looking.",
                            "created_at": iso(NOW - timedelta(minutes=30))}]}],
        "scheduled_maintenances": []}


@pytest.mark.parametrize(("body", "error"), [
    (b'{"hello": "world"}', "a JSON document of no status-page platform the tracker reads"),
    (b'{"broken": ', "not JSON:"),
    (b'[{"arn": 1, "event_log": 5, "impacted_services": []}]', ""),
])
def test_a_json_document_of_no_known_shape_is_one_clear_error(body: bytes, error: str) -> None:
    if not error:  # odd field types in a known shape: read what can be read, no crash
        assert st.read_document(body, "https://x.test/", NOW).incidents == []
        return
    with pytest.raises(st.FeedError, match=re.escape(error)):
        st.read_document(body, "https://x.test/", NOW)


async def test_a_platform_document_is_watched_like_a_feed_each_step_once(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    spy = Spy()
    clock = FakeClock()
    server.routes["/events"] = Route(body=json.dumps([aws_event(1)]).encode("utf-16"),
                                     headers={"Content-Type": "application/json"})
    mon = monitor(session, server.url("/events"), spy, clock=clock)
    assert await mon.poll()
    assert spy.kinds() == [("active", "Increased launch errors")]
    assert mon.components == {"Amazon EC2 (us-east-1)": "degraded_performance"}
    assert mon.incidents[0].status == "Degraded"
    assert await mon.poll() and len(spy.events) == 1  # the same body: nothing, no parse
    assert mon.stats.parses == 1
    server.routes["/events"].body = json.dumps([aws_event(2)]).encode("utf-16")
    assert await mon.poll() and await mon.poll()
    assert spy.kinds()[1:] == [("updated", "Increased launch errors")]
    assert spy.events[1].incident and spy.events[1].incident.message == "Update 1."
    server.routes["/events"].body = json.dumps([aws_event(3, resolved=True)]).encode("utf-16")
    assert await mon.poll()
    assert [e.incident.status for e in spy.events[2:] if e.incident] == ["Resolved"]
    assert mon.incidents == []


async def test_a_page_document_with_windows_says_each_phase_once_and_fills_the_board(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    spy = Spy()
    clock = FakeClock()
    doc = better_stack_index(resolved=False, updates=1)
    server.routes["/index.json"] = Route(body=json.dumps(doc).encode())
    mon = monitor(session, server.url("/index.json"), spy, clock=clock)
    assert await mon.poll()
    assert spy.kinds() == [("maintenance_started", "Network work"), ("active", "API down")]
    assert mon.components == {"API": "major_outage", "Dashboard": "operational"}
    clock.wall += timedelta(hours=2)  # the window's end has passed
    doc["data"]["attributes"]["aggregate_state"] = "operational"
    server.routes["/index.json"].body = json.dumps(doc).encode()
    assert await mon.poll()
    assert spy.kinds()[2:] == [("maintenance_completed", "Network work")]


# --- Discovery, components and the CI gate, against the example pages ---


@pytest.fixture
async def example_pages() -> AsyncIterator[tuple[str, Any]]:
    """examples/local_pages.py's pages on a port of their own: (base URL, the Pages)."""
    spec = importlib.util.spec_from_file_location("local_pages", HERE / "examples" /
                                                  "local_pages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pages = module.Pages()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", pages.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", pages
    await runner.cleanup()


@pytest.mark.parametrize(("site", "platform", "polled", "components", "how"), [
    ("github", "statuspage", "/github/history.atom", "/github/api/v2/summary.json",
     "the page's alternate link"),
    ("openai", "incidentio", "/openai/feed.atom", "/openai/api/v2/summary.json",
     "the page's alternate link"),
    ("instatus", "instatus", "/instatus/summary.json", "/instatus/v2/components.json",
     "Instatus's own path"),
    ("betterstack", "betterstack", "/betterstack/index.json", "/betterstack/index.json",
     "Better Stack's own path"),
    ("statusio", "statusio", "/statusio/pages/5f0c1c1e2d3b4a5968778899/rss",
     "/statusio/1.0/status/5f0c1c1e2d3b4a5968778899", "the page's alternate link"),
])
async def test_a_status_page_address_leads_to_its_feed_platform_and_components(
        example_pages: tuple[str, Any], session: aiohttp.ClientSession, site: str,
        platform: str, polled: str, components: str, how: str) -> None:
    base, _ = example_pages
    found = await st.discover(st.Shared(session), f"{base}/{site}/", NOW)
    assert (found.found.platform, found.found.url, found.found.components, found.how) == (
        platform, base + polled, base + components, how)
    assert found.found.api == (f"{base}/github" if site == "github" else None)


async def test_a_page_without_a_feed_says_what_was_tried(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    server.routes["/"] = Route(body=b"<!DOCTYPE html><html><title>Ours</title></html>",
                               headers={"Content-Type": "text/html"})
    with pytest.raises(st.FeedError, match=re.escape(
            "not a feed: got an HTML page, and no feed was found on it (tried /history.atom, "
            "/feed.atom, /index.json, /summary.json)")):
        await st.discover(st.Shared(session), server.url("/"), NOW)


async def test_a_watched_page_address_is_looked_at_once_and_kept_in_the_state_file(
        example_pages: tuple[str, Any], session: aiohttp.ClientSession, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    base, _ = example_pages
    store = st.StateStore(tmp_path / "state.json", clock=FakeClock())
    spy = Spy()
    with caplog.at_level(logging.INFO, logger="status_tracker"):
        mon = monitor(session, f"{base}/github/", spy, store=store)
        assert await mon.poll()
    assert ("Example: Atlassian Statuspage; feed /github/history.atom; components from "
            "/github/api/v2/summary.json") in caplog.messages
    assert spy.kinds() == [("maintenance_scheduled", "Database upgrade"),
                           ("active", "Actions runs failing")]
    assert mon.url == f"{base}/github/history.atom" and mon.api is not None
    await store.flush()
    again = st.StateStore(tmp_path / "state.json", clock=FakeClock())
    again.load()
    state = again.feed(f"{base}/github/")
    assert state.found == st.Found("statuspage", f"{base}/github/history.atom", f"{base}/github",
                                   f"{base}/github/api/v2/summary.json")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="status_tracker"):
        restarted = monitor(session, f"{base}/github/", Spy(), state=state)
        assert restarted.url == f"{base}/github/history.atom"  # before any request
        assert await restarted.poll()
    assert not any("Atlassian Statuspage;" in m for m in caplog.messages)


@pytest.mark.parametrize("first_read_fails", [False, True])
async def test_a_feed_that_turns_into_a_web_page_is_found_again_with_a_baseline(
        server: FeedServer, session: aiohttp.ClientSession, first_read_fails: bool) -> None:
    # A vendor that moved platforms: the old feed's address now answers the new status page,
    # whose feed names the same incidents under new ids.
    server.routes["/history.atom"] = Route(body=atom(
        statuspage_entry(1, "Actions runs failing", [IDENTIFIED, INVESTIGATING]),
        feed_id="tag:status.example.test,2005:/history"))
    spy = Spy()
    mon = monitor(session, server.url("/history.atom"), spy)
    assert await mon.poll()
    before = len(spy.events)
    server.routes["/history.atom"] = Route(
        body=b'<!DOCTYPE html><html><head><link rel="alternate" type="application/atom+xml" '
             b'href="/feed.atom"></head></html>', headers={"Content-Type": "text/html"})
    found = Route(body=atom(incidentio_entry(
        "01NEW", "Elevated errors", "Investigating", "We are looking."), OPENAI_RESOLVED))
    # Discovery's own look at the new feed, then (or not) a first read that fails.
    answers = [found, Route(status=503), found] if first_read_fails else [found]

    async def new_feed(request: web.Request) -> web.StreamResponse:
        route = answers.pop(0) if len(answers) > 1 else answers[0]
        return web.Response(status=route.status, body=route.body)

    server.routes["/feed.atom"] = Route(handler=new_feed)
    if first_read_fails:
        assert not await mon.poll() and mon.failing_reason == "HTTP 503"
        assert mon.state.found is not None and mon.state.first_sight  # kept for the next
    assert await mon.poll()
    assert mon.url == server.url("/feed.atom")
    assert spy.kinds()[before:] == [("active", "Elevated errors")]  # a baseline, not a flood


@pytest.mark.parametrize(("path", "shown"), [
    ("/slack/api/v2.0.0/current", "Incident: Some messages are delayed"),
    ("/cachet/api/v1/incidents", "Incident: Queue backlog"),
    ("/sorry/api/v1/notices", "Incident: Login errors"),
    ("/salesforce/v1/instances/NA1/status", "Incident: Core: Logins fail on NA1")])
async def test_the_example_pages_serve_every_other_platform_the_tracker_reads(
        example_pages: tuple[str, Any], path: str, shown: str) -> None:
    base, _ = example_pages
    code, out, err = await run_cli("--once", "--feed", f"Example={base}{path}")
    assert code == 0, err
    assert shown in out, out


async def test_a_reload_keeps_the_api_the_page_s_discovery_found(
        example_pages: tuple[str, Any], session: aiohttp.ClientSession) -> None:
    base, _ = example_pages
    mon = monitor(session, f"{base}/github/", Spy())
    assert await mon.poll() and mon.api is not None
    found = mon.enricher.options.api_url
    mon.reconfigure("Example", policy=mon.policy, history=0, options=st.FeedOptions(),
                    limiter=st.HostLimiter())
    assert await mon.poll()
    assert mon.enricher.options.api_url == found and mon.api is not None


async def test_a_discovered_feed_that_is_gone_is_looked_for_again_on_its_page(
        server: FeedServer, session: aiohttp.ClientSession) -> None:
    # The page named a Statuspage feed; the vendor moved to incident.io: the old feed
    # answers 404 and the page names the new one.
    def home(feed: str) -> Route:
        return Route(body=f'<!DOCTYPE html><html><head><link rel="alternate" '
                          f'type="application/atom+xml" href="{feed}"></head></html>'.encode(),
                     headers={"Content-Type": "text/html"})

    server.routes["/"] = home("/history.atom")
    statuspage_site(server, atom(statuspage_entry(1, "Actions runs failing", [INVESTIGATING]),
                                 feed_id="tag:status.example.test,2005:/history"))
    spy = Spy()
    page = server.url("/").rstrip("/")  # the address as people type it, without a slash
    mon = monitor(session, page, spy)
    assert await mon.poll() and mon.url == server.url("/history.atom")
    assert spy.kinds() == [("active", "Actions runs failing")] and api_requests(server)
    server.routes["/history.atom"] = Route(status=404, body=b"not here")
    server.routes["/"] = home("/feed.atom")
    server.routes["/feed.atom"] = Route(body=atom(incidentio_entry(
        "01NEW", "Elevated errors", "Investigating", "We are looking.")))
    server.requests.clear()
    assert await mon.poll() and mon.url == server.url("/feed.atom")
    assert spy.kinds()[1:] == [("active", "Elevated errors")]  # a baseline, not a flood
    server.routes["/feed.atom"] = Route(body=atom(incidentio_entry(
        "01NEW", "Elevated errors", "Resolved", "Fixed.", updated="2026-11-03T15:00:00.000Z")))
    assert await mon.poll() and spy.kinds()[2:] == [("updated", "Elevated errors")]
    assert api_requests(server) == []  # the old page's API is not asked any more
    # While the page still names a feed that fails, the failure is the feed's own.
    server.routes["/feed.atom"] = Route(status=404, body=b"not here")
    assert not await mon.poll() and mon.failing_reason == "HTTP 404"


async def test_a_component_named_for_one_page_leaves_the_others_gated_whole(
        example_pages: tuple[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    base, _ = example_pages
    feeds = [st.resolve_feed(f"GitHub={base}/github/"),
             st.resolve_feed(f"Chat={base}/betterstack/")]
    feeds = [dataclasses.replace(f, options=dataclasses.replace(
        f.options, filter=st.EventFilter(("Database",)))) for f in feeds]
    settings = st.Settings(feeds=feeds, status=True, fail_on="minor")
    with caplog.at_level(logging.ERROR, logger="status_tracker"):
        code = await st.run_status(settings, clock=FixedWall(datetime.now(UTC)),
                                   stdout=io.StringIO(), colour=False)
    # GitHub's Database is operational (its Actions are down, but not asked about); Chat has
    # no Database, so all of Chat is gated, and its degraded API fails it.
    assert code == 3
    assert caplog.messages == ["--fail-on minor: Chat (Chat API: Degraded performance; "
                               "incident 'Slow chat completions' (minor))"]


def test_a_page_is_found_by_its_address_with_or_without_scheme_and_slash_or_by_its_name(
        ) -> None:
    for text in ("https://www.githubstatus.com", "www.githubstatus.com/", "GitHub", "github"):
        page = st.find_page(text)
        assert page is not None and page.key == "github", text
    cloud = st.find_page("google cloud")
    assert cloud is not None and cloud.key == "google-cloud"


async def test_a_status_io_page_s_components_reach_the_gate_and_the_watch(
        example_pages: tuple[str, Any], session: aiohttp.ClientSession) -> None:
    base, _ = example_pages
    code, out, err = await run_cli("--status", "--fail-on", "minor",
                                   "--feed", f"Git={base}/statusio/")
    assert code == 3, err
    assert out.splitlines()[:2] == [
        "Git  degraded", "  component    Git Operations (us-east): Degraded performance"]
    mon = monitor(session, f"{base}/statusio/", Spy())
    assert await mon.poll()
    assert mon.components == {"Git Operations (us-east)": "degraded_performance",
                              "Git Operations (eu-west)": "operational",
                              "Website": "operational"}


async def test_components_are_listed_by_group_and_the_gate_exits_3_with_its_reason_first(
        example_pages: tuple[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    base, _ = example_pages
    out = io.StringIO()
    code = await st.run_components(f"{base}/github/", clock=FakeClock(),
                                   proxies=st.Proxies(environ={}), contact=None,
                                   as_json=False, out=out)
    assert code == 0 and out.getvalue().splitlines() == [
        "Example github (Atlassian Statuspage): 4 components",
        "  Actions     Major outage", "  Database    Operational", "  Git",
        "    Push      Operational", "    Clone     Operational"]
    feeds = [st.resolve_feed(f"GitHub={base}/github/"),
             st.resolve_feed(f"Chat={base}/betterstack/")]
    settings = st.Settings(feeds=feeds, status=True, fail_on="major")
    out = io.StringIO()
    with caplog.at_level(logging.ERROR, logger="status_tracker"):
        code = await st.run_status(settings, clock=FixedWall(datetime.now(UTC)), stdout=out,
                                   colour=False)
    assert code == 3
    assert caplog.messages == ["--fail-on major: GitHub (Actions: Major outage; incident "
                               "'Actions runs failing' (major))"]
    assert out.getvalue().startswith("GitHub  major\n")
    narrowed = [dataclasses.replace(f, options=dataclasses.replace(
        f.options, filter=st.EventFilter(("Database",)))) for f in feeds]
    code = await st.run_status(dataclasses.replace(settings, feeds=narrowed),
                               clock=FixedWall(datetime.now(UTC)), stdout=io.StringIO())
    assert code == 0  # the Database is fine, and Chat's incident touches only its Chat API


@pytest.mark.parametrize(("level", "failing"), [
    ("maintenance", {"Deg", "Minor", "Major", "Crit", "Works"}),
    ("minor", {"Deg", "Minor", "Major", "Crit"}),
    ("major", {"Major", "Crit"}),
    ("critical", {"Crit"}),
])
def test_fail_on_levels_rank_components_incidents_and_maintenance(
        level: str, failing: set[str]) -> None:
    def inc(impact: str | None) -> st.Incident:
        return st.Incident("i", "Outage", "", "Investigating", (), "", None, None,
                           impact=impact)

    window = dataclasses.replace(inc("maintenance"), status="In progress", maintenance=True)
    entries = [st.BoardEntry("Ok"),
               st.BoardEntry("Deg", components=[("A", "Degraded performance")]),
               st.BoardEntry("Minor", incidents=[inc(None)]),
               st.BoardEntry("Major", components=[("B", "Partial outage")]),
               st.BoardEntry("Crit", incidents=[inc("critical")]),
               st.BoardEntry("Works", maintenance=[window])]
    assert {e.name for e in entries if st.fail_reasons(e, level)} == failing


def test_fail_on_needs_status_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        st.main(["--fail-on", "major", "--feed", "github"])
    assert exit_info.value.code == 2
    assert "--fail-on is a gate for --status: add --status" in capsys.readouterr().err


async def test_a_filter_naming_no_component_of_the_page_is_warned_once_with_the_nearest(
        example_pages: tuple[str, Any], session: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    base, _ = example_pages
    mon = monitor(session, f"{base}/github/", Spy(),
                  options=st.FeedOptions(filter=st.EventFilter(("Actoins", "Git", "Push"))))
    with caplog.at_level(logging.WARNING, logger="status_tracker"):
        assert await mon.poll() and await mon.poll()
    assert caplog.messages == [
        "Example has no component 'Actoins'; did you mean 'Actions'?",
        "Example has no component 'Git'; it is a group: name its members (Push, Clone)"]


# --- History, the report, the page, its feed and calendar ---


def history_settings(tmp_path: Path, server: FeedServer, **changes: Any) -> st.Settings:
    return st.Settings(feeds=[st.FeedConfig("OpenAI", server.url("/openai")),
                              st.FeedConfig("GitHub", server.url("/github"))],
                       once=True, state=tmp_path / "state.json", drain_seconds=0.5, **changes)


async def test_history_is_written_read_back_after_a_restart_and_a_quiet_run_adds_nothing(
        server: FeedServer, tmp_path: Path) -> None:
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE, OPENAI_RESOLVED))
    server.routes["/github"] = Route(body=atom(statuspage_entry(
        1, "Actions runs failing", [INVESTIGATING])), headers={"ETag": '"g1"'})
    clock = FakeClock(datetime.now(UTC))
    assert await st.run_tracker(history_settings(tmp_path, server), asyncio.Event(),
                                clock=clock, stdout=io.StringIO()) == 0
    path = tmp_path / "state.history.sqlite3"
    assert oct(path.stat().st_mode & 0o777) == "0o600"

    def rows() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        db = st.open_history(path, read_only=True)
        try:
            return (db.execute("SELECT feed, kind, incident FROM events ORDER BY seq").fetchall(),
                    db.execute("SELECT feed, title, resolved IS NULL FROM incidents "
                               "ORDER BY feed").fetchall())
        finally:
            db.close()

    events, incidents = rows()
    assert events == [("OpenAI", "active", "https://status.openai.com//incidents/01KACTIVE"),
                      ("GitHub", "active", "tag:status.example.test,2005:Incident/1")]
    assert incidents == [("GitHub", "Actions runs failing", 1),
                         ("OpenAI", "Elevated error rates in ChatGPT", 1)]
    clock.wall += timedelta(minutes=5)  # a restart: the 304 and the same body record nothing
    assert await st.run_tracker(history_settings(tmp_path, server), asyncio.Event(),
                                clock=clock, stdout=io.StringIO()) == 0
    assert rows()[0] == events
    server.routes["/github"] = Route(body=atom(statuspage_entry(
        1, "Actions runs failing", [RESOLVED, INVESTIGATING])), headers={"ETag": '"g2"'})
    assert await st.run_tracker(history_settings(tmp_path, server), asyncio.Event(),
                                clock=clock, stdout=io.StringIO()) == 0
    events, incidents = rows()
    assert events[-1] == ("GitHub", "updated", "tag:status.example.test,2005:Incident/1")
    assert incidents[0] == ("GitHub", "Actions runs failing", 0)  # resolved now


def test_a_history_of_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {st.HISTORY_SCHEMA + 1}")
    db.close()
    before = path.read_bytes()
    with pytest.raises(st.HistoryError, match="written by a newer version"):
        st.open_history(path)
    assert path.read_bytes() == before


async def test_a_full_disk_at_start_keeps_the_records_and_writes_them_once_it_clears(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "h.sqlite3"
    real_connect, fails = sqlite3.connect, [2]

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        if fails[0]:
            fails[0] -= 1
            full = sqlite3.OperationalError("database or disk is full")
            full.sqlite_errorcode = 13  # SQLITE_FULL, as SQLite sets it
            raise full
        connection: sqlite3.Connection = real_connect(*args, **kwargs)
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect)
    with caplog.at_level(logging.WARNING, logger="status_tracker"):
        history = st.History(path, clock=FakeClock(datetime.now(UTC)))
        history(st.IncidentEvent(feed="GitHub", kind=st.Kind.ACTIVE,
                                 incident=incident(title="Actions runs failing")))
        assert not await history.flush()  # still full: kept
        assert history.pending and history.written == 0
        assert await history.flush()
    history.close()
    assert caplog.messages == [
        f"history {path}: database or disk is full; records kept, tried again",
        f"history {path}: written again"]
    db = st.open_history(path, read_only=True)
    assert db.execute("SELECT feed, title FROM incidents").fetchall() == [
        ("GitHub", "Actions runs failing")]
    db.close()


async def test_a_restart_records_only_the_components_that_changed_since(
        tmp_path: Path) -> None:
    path, clock = tmp_path / "h.sqlite3", FakeClock(datetime.now(UTC))
    first = st.History(path, clock=clock)
    first.components("GitHub", {"Actions": "major_outage", "Pages": "operational"})
    assert await first.flush()
    first.close()
    again = st.History(path, clock=clock)
    again.components("GitHub", {"Actions": "major_outage", "Pages": "operational"})
    assert again.pending == []
    again.components("GitHub", {"Actions": "operational", "Pages": "operational"})
    assert await again.flush()
    again.close()
    db = st.open_history(path, read_only=True)
    assert db.execute("SELECT name, status FROM components ORDER BY rowid").fetchall() == [
        ("Actions", "major_outage"), ("Pages", "operational"), ("Actions", "operational")]
    db.close()


def test_a_history_whose_first_creation_was_cut_short_is_made_whole(tmp_path: Path) -> None:
    # As a full disk left it before every migration ran in one transaction: one table made,
    # the version not yet written.
    path = tmp_path / "h.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE events(seq INTEGER PRIMARY KEY, recorded REAL NOT NULL, "
               "feed TEXT NOT NULL, kind TEXT NOT NULL, incident TEXT, body TEXT NOT NULL)")
    db.close()
    db = st.open_history(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == st.HISTORY_SCHEMA
    assert {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            } == {"events", "incidents", "steps", "components", "windows"}
    assert not db.in_transaction
    db.close()


async def test_a_batch_put_back_after_a_failure_is_never_written_after_a_newer_one(
        tmp_path: Path) -> None:
    history = st.History(tmp_path / "h.sqlite3", clock=FakeClock(datetime.now(UTC)))
    real_write, released, calls = history._write, threading.Event(), []

    def write(batch: Sequence[st.HistoryRecord]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:  # the writer's flush: busy until the page's flush has come
            released.wait(5)
            raise sqlite3.OperationalError("database is locked")
        real_write(batch)

    history._write = write  # type: ignore[method-assign]
    history(st.IncidentEvent("GitHub", st.Kind.NEW, incident(status="Investigating")))
    writer = asyncio.create_task(history.flush())
    await asyncio.sleep(0)  # the writer's batch is taken, its write under way
    history(st.IncidentEvent("GitHub", st.Kind.UPDATED, incident(status="Resolved")))
    page = asyncio.create_task(history.flush())
    for _ in range(5):
        await asyncio.sleep(0)
    released.set()
    assert list(await asyncio.gather(writer, page)) == [False, True]
    assert calls == [1, 2]  # the put-back record first, with the newer one after it
    history.close()
    db = st.open_history(tmp_path / "h.sqlite3", read_only=True)
    assert db.execute("SELECT resolved IS NOT NULL FROM incidents").fetchall() == [(1,)]
    db.close()


def test_a_history_that_cannot_be_made_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(st.HistoryError, match="no such file or directory") as info:
        st.History(tmp_path / "missing" / "h.sqlite3", clock=FakeClock())
    assert not info.value.passing


def made_up_history(path: Path, start: datetime) -> None:
    """A day whose outage minutes are known: Actions in major outage 01:00-03:00 (120 min),
    in partial outage 05:00-06:00 (60 min), Database in maintenance 08:00-08:30; one
    critical incident 01:00-03:00, one minor still open since 20:00."""
    def at(hours: float) -> float:
        return (start + timedelta(hours=hours)).timestamp()

    db = st.open_history(path)
    rows = [("GitHub", "Actions", "operational", at(0)),
            ("GitHub", "Actions", "major_outage", at(1)),
            ("GitHub", "Actions", "operational", at(3)),
            ("GitHub", "Actions", "partial_outage", at(5)),
            ("GitHub", "Actions", "operational", at(6)),
            ("GitHub", "Database", "under_maintenance", at(8)),
            ("GitHub", "Database", "operational", at(8.5))]
    with db:
        db.executemany("INSERT INTO components VALUES (?, ?, ?, ?)", rows)
        db.executemany("INSERT INTO incidents VALUES (?, ?, ?, ?, ?, 0, '[]', ?, ?, ?)", [
            ("GitHub", "i1", "Actions down", "https://x.test/1", "critical", at(1), at(3), at(3)),
            ("GitHub", "i2", "Slow pages", "https://x.test/2", "minor", at(20), None, at(20)),
            ("Mail", "m1", "Mail delayed", "https://x.test/3", "major", at(2), at(4), at(4))])
        db.execute("INSERT INTO events(recorded, feed, kind, incident, body) VALUES "
                   "(?, 'GitHub', 'new', 'i1', '{}')", (at(1),))
    db.close()


def test_the_report_figures_come_from_the_recorded_timeline(tmp_path: Path) -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    path = tmp_path / "h.sqlite3"
    made_up_history(path, start)
    settings = st.Settings(feeds=[], history_db=path, as_json=True)
    out = io.StringIO()
    assert st.run_report(settings, 86_400, clock=FixedWall(start + timedelta(days=1)),
                         out=out) == 0
    github, mail = json.loads(out.getvalue())["vendors"]
    assert github["incidents"] == {"critical": 1, "minor": 1}
    assert github["outage_minutes"] == {"Actions": {"major_outage": 120.0,
                                                    "partial_outage": 60.0},
                                        "Database": {"under_maintenance": 30.0}}
    assert github["uptime"] == pytest.approx(100 * (1 - (120 + 0.3 * 60) / 1440))
    assert github["longest"] == {"title": "Slow pages", "minutes": 240.0, "open": True}
    assert (github["mean_minutes_to_resolve"], github["resolved"]) == (120.0, 1)
    assert github["estimated"] is False
    # No component states for Mail: its major incident's two hours are a partial outage.
    assert mail["estimated"] is True
    assert mail["outage_minutes"] == {"(the whole page)": {"partial_outage": 120.0}}
    assert mail["uptime"] == pytest.approx(100 * (1 - 0.3 * 120 / 1440))
    text = io.StringIO()
    st.run_report(dataclasses.replace(settings, as_json=False), 86_400,
                  clock=FixedWall(start + timedelta(days=1)), out=text)
    assert text.getvalue().splitlines()[1:7] == [
        "GitHub", "  incidents        2: 1 critical, 1 minor", "  uptime           90.42%",
        "  outage           Actions: 2 h 0 min major outage, 1 h 0 min partial outage; "
        "Database: 30 min under maintenance",
        "  longest          Slow pages: 4 h 0 min (still open)",
        "  time to resolve  2 h 0 min on average over 1 resolved incident"]


def test_a_report_counts_only_the_time_recorded_and_takes_a_watch_s_own_feed_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "h.sqlite3"
    now = datetime.now(UTC)
    began = now - timedelta(hours=6)
    db = st.open_history(path)
    with db:
        db.execute("INSERT INTO events(recorded, feed, kind, incident, body) VALUES "
                   "(?, 'Chat', 'new', 'c1', '{}')", (began.timestamp(),))
        db.execute("INSERT INTO incidents VALUES ('Chat', 'c1', 'Slow', '', NULL, 0, '[]', ?, "
                   "?, ?)", ((now - timedelta(hours=5)).timestamp(),
                             (now - timedelta(hours=4)).timestamp(), began.timestamp()))
    db.close()
    assert st.main(["--report", "--history-db", str(path), "--feed", "chat", "--json"]) == 0
    [chat] = json.loads(capsys.readouterr().out)["vendors"]
    # Nothing says how bad its hour was: no minute is down, and that is an estimate.
    assert (chat["feed"], chat["uptime"], chat["estimated"]) == ("Chat", 100.0, True)
    assert chat["recorded_from"] == st._iso(began) and chat["resolved"] == 1
    assert st.main(["--report", "--history-db", str(path), "--since", "12h"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("(12 hours): 1 vendor")
    assert lines[3] == (f"  uptime           100.00% (estimated) since {st._stamp(began)}, "
                        "when its recording began")
    assert st.main(["--report", "--history-db", str(path), "--feed", "Mail"]) == 2
    assert capsys.readouterr().err == ("status_tracker.py: error: --report: no history of "
                                       "'Mail'; it holds Chat\n")


def test_the_days_bars_mark_maintenance_only_while_under_way_and_no_data_before_any(
        tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)

    def at(days: float) -> float:
        return (now - timedelta(days=days)).timestamp()

    db = st.open_history(tmp_path / "h.sqlite3")
    with db:
        # A window announced 10 days ago for 5 days ahead, one that ran yesterday, and one
        # cancelled before it began; a feed's maintenance announced 10 days ago, under way
        # from 3 days ago to 2 days ago; a major incident 5 days ago.
        db.executemany("INSERT INTO windows VALUES ('GitHub', ?, 'W', '', ?, ?, ?, 0, ?)", [
            ("ahead", at(-5), at(-5.1), "scheduled", at(10)),
            ("ran", at(1), at(0.9), "completed", at(10)),
            ("gone", at(4), at(3.9), "cancelled", at(10))])
        db.executemany("INSERT INTO incidents VALUES ('GitHub', ?, ?, '', ?, ?, '[]', ?, ?, ?)", [
            ("m1", "Upgrade", "maintenance", 1, at(10), at(2), at(2)),
            ("i1", "Down", "major", 0, at(5), at(4.9), at(4.9))])
        db.executemany("INSERT INTO steps VALUES ('GitHub', 'm1', ?, ?, '')", [
            (at(10), "Scheduled"), (at(3), "In progress"), (at(2), "Completed")])
        db.execute("INSERT INTO events(recorded, feed, kind, incident, body) VALUES "
                   "(?, 'GitHub', 'new', 'm1', '{}')", (at(10),))
    days = st.day_levels(db, "GitHub", now)
    assert days[:-11] == [None] * (st.BAR_DAYS - 11)  # before the first record
    assert days[-11:] == [-1, -1, -1, -1, -1, 2, -1, 0, 0, 0, -1]
    # A feed never read shows no day at all; one read today and quiet shows today up.
    assert st.day_levels(db, "Never", now) == [None] * st.BAR_DAYS
    assert st.day_levels(db, "Quiet", now, read_at=at(0))[-2:] == [None, -1]
    db.close()


def test_report_without_a_history_is_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert st.main(["--report", "--feed", "github"]) == 2
    assert capsys.readouterr().err == ("status_tracker.py: error: --report reads the history: "
                                       "give --state or --history-db\n")
    assert st.main(["--report", "--since", "soon", "--state", str(tmp_path / "s.json")]) == 2
    assert "expected a span such as 30d, 12h or 2w, got 'soon'" in capsys.readouterr().err


@pytest.fixture
async def site(server: FeedServer, tmp_path: Path) -> AsyncIterator[tuple[str, FeedServer]]:
    """A watch serving its page, over two feeds with a history: (its address, the server)."""
    server.routes["/openai"] = Route(body=atom(OPENAI_ACTIVE, OPENAI_RESOLVED))
    server.routes["/evil"] = Route(body=atom(incidentio_entry(
        "01EVIL", "Costs &lt; 5 &amp; more<script>alert(1)</script>", "Investigating",
        'Look <img src=x onerror="alert(1)">')
        .replace("https://status.openai.com//incidents/01EVIL", "javascript:alert(1)")))
    begin = datetime.now(UTC) - timedelta(hours=1)
    stamp = begin.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    server.routes["/gcp/incidents.json"] = Route(body=json.dumps([{
        "id": "gc1", "begin": stamp, "modified": stamp, "end": None, "severity": "low",
        "external_desc": "Vertex errors", "status_impact": "SERVICE_DISRUPTION",
        "uri": "incidents/gc1", "affected_products": [{"title": "Vertex", "id": "v"}],
        "updates": [{"when": stamp, "status": "SERVICE_DISRUPTION", "text": "Looking."}]}
        ]).encode())
    # An address with a user, a password and a token: none of them may be shown.
    secret = server.url("/gcp/incidents.json?key=TOKENSECRET").replace(
        "//", "//carol:PWSECRET@")
    settings = st.Settings(feeds=[st.FeedConfig("OpenAI", server.url("/openai")),
                                  st.FeedConfig("Evil Page", server.url("/evil")),
                                  st.FeedConfig("Cloud", secret)],
                           # 1 s: the first polls are spread over at most an interval
                           interval=1, serve=("127.0.0.1", 0), state=tmp_path / "s.json")
    stop = asyncio.Event()
    found: list[st.Monitoring] = []
    task = asyncio.create_task(st.run_tracker(settings, stop, clock=st.Clock(),
                                              stdout=io.StringIO(), on_monitoring=found.append))
    await wait_for_condition(lambda: bool(found) and found[0].bound is not None
                             and all(m.stats.polls for m in found[0].monitors), 10)
    host, port = found[0].bound or ("", 0)
    yield f"http://{host}:{port}", server
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_the_page_shows_every_vendor_escaped_with_a_strict_policy_and_no_outside_url(
        site: tuple[str, FeedServer], session: aiohttp.ClientSession) -> None:
    base, _ = site
    for path in ("/", "/?part=main", "/vendor/openai", "/vendor/evil-page"):
        async with session.get(base + path) as resp:
            assert resp.status == 200, path
            policy = resp.headers["Content-Security-Policy"]
            body = await resp.text()
        assert policy.startswith("default-src 'none'; ") and "unsafe" not in policy
        # Nothing is loaded from anywhere: no src, no stylesheet link; only anchors lead out.
        assert not re.search(r"\ssrc=|<link|@import|url\(", body), path
        assert all(re.match(r"https?://|/", href) for href in re.findall(r'href="([^"]*)"', body))
    async with session.get(base + "/") as resp:
        page = await resp.text()
    assert "<h2 id=\"v-openai\"><a href=\"/vendor/openai\">OpenAI</a>" in page
    assert "Elevated error rates in ChatGPT" in page and "Degraded performance" in page
    # The title's text is "Costs < 5 & more" (its script dropped as all markup is), and is
    # shown as text.
    assert "Costs &lt; 5 &amp; more" in page and "alert" not in page and "<img" not in page
    assert "javascript:" not in page
    assert page.count("<script>") == 1 and "role=\"img\" aria-label=\"Last 90 days: " in page
    async with session.get(base + "/vendor/nothing") as resp:
        assert resp.status == 404
    for path in ("/", "/vendor/cloud", "/feed.atom", "/feed.atom?feed=cloud",
                 "/maintenance.ics", "/status", "/metrics"):
        async with session.get(base + path) as resp:
            body = await resp.text()
        assert "Vertex errors" in body or path in ("/maintenance.ics", "/metrics"), path
        assert not re.search("carol|PWSECRET|TOKENSECRET", body), path


async def test_the_page_is_told_of_each_change_through_server_sent_events(
        site: tuple[str, FeedServer], session: aiohttp.ClientSession) -> None:
    base, _ = site
    site_obj = next(o for o in gc.get_objects() if isinstance(o, st.Site))
    async with session.get(base + "/") as resp:
        page = await resp.text()
    version = int(re.findall(r'<main id="main" data-version="(\d+)">', page)[0])
    assert version == site_obj.version > 0
    async with session.get(base + f"/events?since={version}") as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        site_obj(st.IncidentEvent("OpenAI", st.Kind.FEED_DOWN, error="x"))
        lines = [await asyncio.wait_for(resp.content.readline(), 5) for _ in range(2)]
        assert lines == [f"id: {version + 1}\n".encode(), f"data: {version + 1}\n".encode()]
    # A change between the page and its stream is not missed: the stream starts from the
    # page's version, or the last id a reconnecting browser sends.
    for asked in (f"/events?since={version}", "/events"):
        headers = {} if "since" in asked else {"Last-Event-ID": str(version)}
        async with session.get(base + asked, headers=headers) as resp:
            line = await asyncio.wait_for(resp.content.readline(), 5)
            assert line == f"id: {site_obj.version}\n".encode()


async def test_the_feed_is_valid_atom_with_stable_ids_and_answers_304(
        site: tuple[str, FeedServer], session: aiohttp.ClientSession) -> None:
    base, _ = site
    async with session.get(base + "/feed.atom") as resp:
        assert resp.status == 200 and resp.content_type == "application/atom+xml"
        etag, body = resp.headers["ETag"], await resp.read()
    parsed = feedparser.parse(body)
    assert not parsed.bozo and parsed.version == "atom10"
    root = ElementTree.fromstring(body)
    ns = "{http://www.w3.org/2005/Atom}"
    for element in (root, *root.iter(f"{ns}entry")):
        for required in ("id", "title", "updated"):  # RFC 4287 4.1.1, 4.1.2
            assert element.find(f"{ns}{required}") is not None, required
    titles = [e.title for e in parsed.entries]
    assert "OpenAI: Elevated error rates in ChatGPT (Investigating)" in titles
    ids = [e.id for e in parsed.entries]
    async with session.get(base + "/feed.atom") as resp:
        assert [e.id for e in feedparser.parse(await resp.read()).entries] == ids
    assert parsed.feed.id == "urn:status-tracker:feed"  # whatever host or port served it
    stamps = [e.updated_parsed for e in parsed.entries]
    assert stamps == sorted(stamps, reverse=True)
    async with session.get(base + "/feed.atom", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
        modified = resp.headers["Last-Modified"]
    for asked in ({"If-None-Match": f'"other", W/{etag}'}, {"If-None-Match": "*"},
                  {"If-Modified-Since": modified}):
        async with session.get(base + "/feed.atom", headers=asked) as resp:
            assert resp.status == 304, asked
    for asked in ({"If-None-Match": '"other"', "If-Modified-Since": modified},
                  {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}):
        async with session.get(base + "/feed.atom", headers=asked) as resp:
            assert resp.status == 200, asked  # If-None-Match decides when both are sent
    async with session.get(base + "/feed.atom?feed=evil-page") as resp:
        one = feedparser.parse(await resp.read())
    assert [e.title.split(":")[0] for e in one.entries] == ["Evil Page"]
    assert (one.feed.id, one.feed.title) == ("urn:status-tracker:feed:evil-page",
                                             "Evil Page: every incident and update")


def test_the_calendar_keeps_a_window_s_uid_raises_its_sequence_and_cancels_it(
        tmp_path: Path) -> None:
    icalendar = pytest.importorskip("icalendar", reason="the test requirements hold icalendar")
    path = tmp_path / "h.sqlite3"
    db = st.open_history(path)
    now = datetime.now(UTC)

    def window(code: str, hours: int) -> st.ApiIncident:
        return st.ApiIncident(code, f"Upgrade {code}", "scheduled", "maintenance",
                              "https://x.test/m", (), (), now + timedelta(hours=hours),
                              now + timedelta(hours=hours + 1))

    def calendar() -> list[Any]:
        body = st.maintenance_calendar(st.recorded_windows(db), now)
        assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))
        return [c for c in icalendar.Calendar.from_ical(body).walk("VEVENT")]

    st._history_rows(db, [st.WindowList("GitHub", [window("a", 5), window("b", 9)],
                                        now.timestamp())])
    first = {str(e["UID"]): e for e in calendar()}
    assert set(first) == {"github-a@status-tracker", "github-b@status-tracker"}
    assert first["github-a@status-tracker"].decoded("DTSTART") == (
        now + timedelta(hours=5)).replace(microsecond=0)
    assert first["github-a@status-tracker"]["SEQUENCE"] == 0
    # "a" moves two hours later; "b" leaves the list before it began: cancelled.
    st._history_rows(db, [st.WindowList("GitHub", [window("a", 7)], now.timestamp())])
    second = {str(e["UID"]): e for e in calendar()}
    assert second["github-a@status-tracker"]["SEQUENCE"] == 1
    assert second["github-a@status-tracker"].decoded("DTSTART") == (
        now + timedelta(hours=7)).replace(microsecond=0)
    assert str(second["github-b@status-tracker"]["STATUS"]) == "CANCELLED"
    assert second["github-b@status-tracker"]["SEQUENCE"] == 1
    db.close()


def chromium_path() -> str | None:
    import shutil

    return next((p for name in ("chromium", "chromium-browser", "google-chrome")
                 if (p := shutil.which(name))), None)


class DevTools:
    """A page of a headless Chromium, driven over its DevTools protocol (a websocket)."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.sent = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.sent += 1
        await self.socket.send_json({"id": self.sent, "method": method, "params": params})
        async for message in self.socket:
            data = json.loads(message.data)
            if data.get("id") == self.sent:
                result: dict[str, Any] = data.get("result", {})
                return result
        raise AssertionError("the browser closed its DevTools socket")

    async def value(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def until(self, expression: str, seconds: float = 15) -> Any:
        """The expression's value once it is truthy (the page, not the test, sets the pace)."""
        deadline = time.monotonic() + seconds
        while not (value := await self.value(expression)):
            assert time.monotonic() < deadline, f"never true: {expression}"
            await asyncio.sleep(0.1)
        return value


async def read_line_matching(stream: asyncio.StreamReader, pattern: str, seconds: float = 20
                             ) -> re.Match[str]:
    async def read() -> re.Match[str]:
        while line := (await stream.readline()).decode(errors="replace"):
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"the stream ended before {pattern!r}")

    return await asyncio.wait_for(read(), seconds)


async def test_a_browser_sees_the_vendors_and_an_update_arrive_without_a_reload(
        tmp_path: Path) -> None:
    browser = chromium_path()
    if browser is None:
        pytest.skip("no Chromium here (Debian: apt-get install chromium); .ci/run installs it")
    if "FAKETIME" in os.environ:
        pytest.skip("run on the real date only: Chromium under faketime takes half a minute "
                    "to start, and the page's dates are checked on every date without it")
    procs: list[asyncio.subprocess.Process] = []

    async def start(*argv: str, **kwargs: Any) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(*argv, cwd=HERE, **kwargs)
        procs.append(proc)
        return proc

    try:
        pages = await start(sys.executable, str(HERE / "examples" / "local_pages.py"), "0",
                            stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert pages.stderr is not None and pages.stdin is not None
        base = (await read_line_matching(pages.stderr, r"serving on (http://\S+?)/ "))[1]
        tracker = await start(
            sys.executable, "-m", "status_tracker", "--interval", "1", "--serve", "0",
            "--state", str(tmp_path / "state.json"), "--feed", f"GitHub={base}/github/",
            "--feed", f"Chat={base}/betterstack/", stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        assert tracker.stderr is not None
        site = (await read_line_matching(tracker.stderr, r"on (http://[\d.:]+)/ "))[1]
        chrome = await start(browser, "--headless", "--no-sandbox", "--disable-gpu",
                             "--remote-debugging-port=0", f"--user-data-dir={tmp_path / 'c'}",
                             "about:blank", stdout=asyncio.subprocess.DEVNULL,
                             stderr=asyncio.subprocess.PIPE)
        assert chrome.stderr is not None
        port = (await read_line_matching(chrome.stderr, r"ws://127\.0\.0\.1:(\d+)/"))[1]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as resp:
                target = next(t for t in await resp.json() if t["type"] == "page")
            async with session.ws_connect(target["webSocketDebuggerUrl"],
                                          max_msg_size=0) as socket:
                tab = DevTools(socket)
                await tab.call("Page.navigate", url=f"{site}/")
                # Both vendors' first reads may come after the page loaded: it follows them.
                text = await tab.until(
                    "['Slow chat completions', 'Actions runs failing'].every("
                    "t => document.body.innerText.includes(t)) && document.body.innerText")
                assert "GitHub" in text and "Chat" in text
                assert "Actions runs failing: Investigating" in text
                await tab.value("window.stillTheSamePage = true")
                pages.stdin.write(b"\n")  # the page posts its next step: Identified
                await pages.stdin.drain()
                await tab.until("document.body.innerText.includes("
                                "'Actions runs failing: Identified')")
                assert await tab.value("window.stillTheSamePage") is True  # no reload
                errors = await tab.value("performance.getEntriesByType('navigation').length")
                assert errors == 1
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        await asyncio.gather(*(asyncio.wait_for(p.wait(), 10) for p in procs),
                             return_exceptions=True)


# --- The catalogue: pages by name ---


REQUIRED_PAGES = (
    "openai", "anthropic", "github", "gitlab", "cloudflare", "aws", "google-cloud", "azure",
    "digitalocean", "vercel", "netlify", "heroku", "slack", "discord", "zoom", "twilio",
    "sendgrid", "stripe", "shopify", "datadog", "sentry", "pagerduty", "atlassian", "notion",
    "linear", "mongodb-atlas", "snowflake", "supabase", "okta", "npm", "pypi", "docker-hub")


def test_the_catalogue_holds_the_vendors_users_name_in_a_sound_form() -> None:
    pages = st.catalogue()
    assert len(pages) >= 150
    assert set(REQUIRED_PAGES) <= set(pages)
    keys = [line.split("|")[0] for line in st._CATALOGUE.splitlines()
            if line and not line.startswith(" ")]
    assert len(keys) == len(pages), "a key is in the catalogue twice"
    addresses = [p.page for p in pages.values()]
    assert len(set(addresses)) == len(addresses), "two entries for one page"
    names = [p.name.casefold() for p in pages.values()]
    assert len(set(names)) == len(names), "two pages share a name"
    for key, page in pages.items():
        assert key == page.key and re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", key), key
        assert page.name and page.name == st.clean_text(page.name), key
        assert page.page.startswith("https://") and page.page.endswith("/"), key
        assert st.check_url(page.page) and st.check_url(page.url), key
        assert page.url.startswith("https://"), key
        assert isinstance(page.platform, st.Platform), key
        assert all(re.fullmatch(r"[a-z-]+", tag) for tag in page.tags), key
        if page.platform is st.Platform.STATUSPAGE:
            assert page.api is not None and page.url.startswith(page.api + "/"), key
        if page.platform in (st.Platform.STATUSPAGE, st.Platform.INCIDENT_IO):
            assert page.url.startswith(page.page), key
            assert page.components_url == page.page + "api/v2/summary.json", key
    # The default watch is OpenAI alone, and it is the catalogue's OpenAI.
    assert [("OpenAI", pages["openai"].url)] == st.FEEDS


@pytest.mark.parametrize(("text", "name", "url"), [
    ("github", "GitHub", "https://www.githubstatus.com/history.atom"),
    ("GitHub", "GitHub", "https://www.githubstatus.com/history.atom"),
    ("Work=github", "Work", "https://www.githubstatus.com/history.atom"),
    ("https://www.githubstatus.com/", "GitHub", "https://www.githubstatus.com/history.atom"),
    ("https://status.example.test/feed.atom?a=b", "status.example.test",
     "https://status.example.test/feed.atom?a=b"),
    ("Mine=https://status.example.test/x.rss", "Mine", "https://status.example.test/x.rss"),
    ("docker-hub", "Docker (Docker Hub)",
     "https://www.dockerstatus.com/pages/533c6539221ae15e3f000031/rss"),
])
def test_a_feed_is_named_by_its_page_its_url_or_both(text: str, name: str, url: str) -> None:
    feed = st.resolve_feed(text)
    assert (feed.name, feed.url) == (name, url)
    if "githubstatus" in url:
        assert feed.page is not None and feed.platform is st.Platform.STATUSPAGE
        assert feed.options.api_url == "https://www.githubstatus.com"


def test_a_config_names_a_page_and_a_mistyped_one_gets_the_nearest(tmp_path: Path) -> None:
    path = tmp_path / "tracker.toml"
    path.write_text('[[feeds]]\npage = "github"\ncomponents = ["Actions"]\n\n'
                    '[[feeds]]\nname = "Chat"\npage = "slack"\n', encoding="utf-8")
    github, slack = st.load_config(path).feeds or []
    assert (github.name, github.url, github.options.filter.components) == (
        "GitHub", "https://www.githubstatus.com/history.atom", ("Actions",))
    assert (slack.name, slack.platform) == ("Chat", st.Platform.SLACK)
    path.write_text('[[feeds]]\npage = "githb"\n', encoding="utf-8")
    with pytest.raises(st.ConfigError, match=r"feeds\[0\]\.page: unknown page 'githb'; the "
                                             r"nearest: github, gitlab"):
        st.load_config(path)
    path.write_text('[[feeds]]\nname = "X"\n', encoding="utf-8")
    with pytest.raises(st.ConfigError, match=r"feeds\[0\]\.url: missing \(or give a page"):
        st.load_config(path)


def test_list_pages_finds_by_tag_word_or_part_and_says_when_nothing_matches(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert st.main(["--list-pages", "ai"]) == 0
    keys = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert {"openai", "anthropic", "mistral", "google-cloud"} <= set(keys)
    assert "mailgun" not in keys and "airbrake" not in keys  # "ai" is a tag, not a part
    assert st.main(["--list-pages", "git", "--json"]) == 0
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"github", "gitlab"} <= {f["key"] for f in found}
    github = next(f for f in found if f["key"] == "github")
    assert github == {"key": "github", "name": "GitHub", "platform": "statuspage",
                      "page": "https://www.githubstatus.com/",
                      "url": "https://www.githubstatus.com/history.atom", "tags": []}
    assert st.main(["--list-pages", "nothing-called-this"]) == 1
    assert capsys.readouterr().out == ""
    assert len(st.match_pages([])) == len(st.catalogue())


# --- The README's examples run as shown ---


def readme_blocks(language: str) -> list[str]:
    text = (HERE / "README.md").read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.M | re.S)


@dataclass
class Transcript:
    """One piece of a README console block: a command (None: the running one goes on), what
    a terminal shows of it, and what is done first (Enter pressed in the local pages'
    terminal; Ctrl+C)."""
    command: str | None
    shown: list[str]
    enter: bool = False
    interrupt: bool = False


def readme_transcripts() -> list[Transcript]:
    text = (HERE / "README.md").read_text(encoding="utf-8")
    pieces: list[Transcript] = []
    blocks = re.finditer(r"^(<!-- README test: (\w+) -->\n)?```console\n(.*?)^```$", text,
                         flags=re.M | re.S)
    for block in blocks:
        lines = block[3].splitlines()
        if not lines[0].startswith("$ "):
            interrupt = lines[0].startswith("^C")
            lines[0] = lines[0].removeprefix("^C")
            pieces.append(Transcript(None, [], enter=block[2] == "Enter", interrupt=interrupt))
        for line in lines:
            if line.startswith("$ "):
                pieces.append(Transcript(line[2:], []))
            else:
                pieces[-1].shown.append(line)
    return pieces


def masked(lines: Sequence[str]) -> list[str]:
    """Times, dates, durations and byte counts change from run to run; nothing else may."""
    return [re.sub(r"\d+", "0", line.rstrip()) for line in lines]


class Terminal:
    """A command in a pseudo-terminal, as a user runs it: stdout and stderr on one screen,
    the tracker's terminal formats (time of day in logs) in force."""

    def __init__(self, argv: list[str], cwd: Path = HERE) -> None:
        import pty

        self.master, slave = pty.openpty()
        env = {**os.environ, "NO_COLOR": "1"}
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                     env=env, start_new_session=True)
        os.close(slave)
        self.buffer = b""
        self.ended = False

    def lines(self) -> list[str]:
        text = self.buffer.decode("utf-8", "replace").replace("\r\n", "\n")
        return text.split("\n")[:-1]  # complete lines only

    def read(self, lines: int | None, timeout: float = 15) -> list[str]:
        """Read until the screen holds `lines` complete lines (None: until the command ends)."""
        import select

        deadline = time.monotonic() + timeout
        while (lines is None or len(self.lines()) < lines) and not self.ended:
            left = deadline - time.monotonic()
            assert left > 0, "timed out; the terminal shows:\n" + "\n".join(self.lines())
            if select.select([self.master], [], [], left)[0]:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: every end of the terminal closed, the command is done
                    chunk = b""
                self.buffer += chunk
                self.ended = not chunk
        return self.lines()

    def finish(self, timeout: float = 15) -> tuple[int, list[str]]:
        lines = self.read(None, timeout)
        os.close(self.master)
        return exit_code(self.proc, timeout), lines


def exit_code(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Popen.wait(timeout) without time.sleep, which fails under faketime with monotonic
    time left real (libfaketime 0.9.10 and Python 3.11's clock_nanosleep: EINVAL)."""
    import select

    deadline = time.monotonic() + timeout
    while (code := proc.poll()) is None:
        assert time.monotonic() < deadline, f"{proc.args!r} did not end"
        select.select([], [], [], 0.02)
    return code


@dataclass
class Job:
    """One README command and what follows it: the pieces it prints, then its exit code."""

    pieces: list[Transcript]
    code: int | None = None  # what `echo $?` after it shows

    @property
    def interactive(self) -> bool:
        return len(self.pieces) > 1  # Enter or Ctrl+C along the way


def readme_jobs() -> list[Job]:
    jobs: list[Job] = []
    for piece in readme_transcripts():
        if piece.command == "echo $?":
            jobs[-1].code = int(piece.shown[0])
        elif piece.command is None:
            jobs[-1].pieces.append(piece)
        else:
            jobs.append(Job([piece]))
    return jobs


def run_job(job: Job, base: str, cwd: Path, pages: subprocess.Popen[bytes]) -> None:
    """Run one README command in a pseudo-terminal and compare what it prints, piece by
    piece, with the README (digits masked)."""
    command = job.pieces[0].command or ""
    assert command.startswith("python "), command
    argv = shlex.split(command.replace("$P", base))
    terminal = Terminal([sys.executable, *argv[1:]], cwd=cwd)
    try:
        for i, piece in enumerate(job.pieces):
            if piece.enter:
                assert pages.stdin is not None
                pages.stdin.write(b"\n")
                pages.stdin.flush()
            if piece.interrupt:
                terminal.proc.send_signal(signal.SIGINT)
            before = len(terminal.lines())
            expected = masked(piece.shown)
            if i + 1 < len(job.pieces):
                shown = terminal.read(before + len(expected))
            else:
                code, shown = terminal.finish()
                if job.code is not None:
                    assert code == job.code, (command, code)
            assert masked(shown[before:]) == expected, (command, shown)
    finally:
        if terminal.proc.poll() is None:
            terminal.proc.kill()
            exit_code(terminal.proc, 10)


def test_the_readme_console_examples_print_what_the_readme_shows(tmp_path: Path) -> None:
    pytest.importorskip("termios")  # a pseudo-terminal: not on Windows
    from concurrent.futures import ThreadPoolExecutor

    jobs = readme_jobs()
    assert [j for j in jobs if (j.pieces[0].command or "").startswith("python")]
    # The commands run where a user would, beside the script and the example pages, but in
    # a folder of the test's own: the state files they write stay out of the project.
    for name in ("status_tracker.py", "examples"):
        (tmp_path / name).symlink_to(HERE / name)
    pages = subprocess.Popen([sys.executable, str(HERE / "examples" / "local_pages.py"), "0"],
                             stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=HERE)
    assert pages.stdin is not None and pages.stderr is not None
    try:
        said = pages.stderr.readline().decode()
        found = re.search(r"serving on (http://127\.0\.0\.1:\d+)/", said)
        assert found, said
        # In the README's order, but the commands between two that must wait (one that
        # presses Enter or Ctrl+C, one that reads what others wrote) run at once.
        waves: list[list[Job]] = []
        for job in jobs:
            alone = job.interactive or "--report" in (job.pieces[0].command or "")
            if alone or not waves or waves[-1][0].interactive:
                waves.append([job])
            else:
                waves[-1].append(job)
        with ThreadPoolExecutor(8) as pool:
            for wave in waves:
                for done in [pool.submit(run_job, j, found[1], tmp_path, pages) for j in wave]:
                    done.result()
    finally:
        pages.terminate()
        exit_code(pages, 10)


def test_every_toml_block_in_the_readme_loads(tmp_path: Path) -> None:
    blocks = readme_blocks("toml")
    assert blocks
    for i, block in enumerate(blocks):
        if "Europe/Berlin" in block and not zone_known("Europe/Berlin"):
            pytest.skip("no time zone database here (pip install tzdata)")
        path = tmp_path / f"readme{i}.toml"
        path.write_text(block, encoding="utf-8")
        config = st.load_config(path)
        assert config.feeds or config.routes or config.values, block


def zone_known(name: str) -> bool:
    try:
        st._zone(name)
    except Exception:
        return False
    return True


def test_the_readme_options_table_lists_every_flag_and_config_key() -> None:
    text = (HERE / "README.md").read_text(encoding="utf-8")
    table = text.split("## Options", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    flags = {flag for action in st.build_parser()._actions for flag in action.option_strings
             if flag not in ("-h", "--help")}
    listed = {m for row in rows for m in re.findall(r"`(-{1,2}[a-z-]+)", row.split(" | ")[0])}
    assert flags == listed
    keys = {m for row in rows for m in re.findall(r"`(\w+)`", row.split(" | ")[1])}
    assert {o.key for o in st.OPTIONS} <= keys


def test_the_readme_cron_and_service_lines_use_flags_that_exist() -> None:
    flags = {flag for action in st.build_parser()._actions for flag in action.option_strings}
    lines = [line for block in readme_blocks("cron") + readme_blocks("ini")
             for line in block.splitlines() if "status_tracker.py" in line]
    assert len(lines) == 2
    for line in lines:
        assert set(re.findall(r"(?<=\s)--[a-z-]+", line)) <= flags, line


# --- The benchmark stays runnable ---


@pytest.mark.bench
async def test_the_benchmark_runs_end_to_end_at_a_tiny_size() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "bench" / "bench.py"), "--feeds", "4", "--cycles", "1",
        "--sample", "1", "--interval", "0.3", "--cli-window", "0.3", "--cli-warmup", "0.7",
        "--cli-repeats", "1", cwd=HERE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 0, text + err.decode()
    assert "feedparser calls in quiet cycles (tracker):   0  (target 0)" in text
    # The CLI table is there; a 0.3 s window is too short for the numbers to mean much (a
    # contender polling once a second may poll no time in it: "n/a").
    assert re.search(r"µs CPU per poll, 304 +\| (\d+|n/a) +\| (\d+|n/a) +\|", text), text
    assert re.search(r"detection latency through the CLI's stdout, max of 3 changes: "
                     r"\d+\.\d\d s with --interval 1 \(missed: 0\)", text), text
    assert re.search(r"status API requests per quiet cycle: +0  \(target 0\); per Statuspage "
                     r"change: [12]  \(target <= 2\)", text), text
    assert re.search(r"detection latency, max of 6 changes +\| \d+\.\d\d s", text), text
    assert "PROBLEM" not in text
