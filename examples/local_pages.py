"""Serve made-up status pages on 127.0.0.1 to try status_tracker without the internet.

    python examples/local_pages.py [PORT]    # default port 8765 (0: any free port); Ctrl+C stops

Pages (all invented, in the shapes the real platforms publish), the first five with a home
page at /NAME/ for discovery:

* /github/      -- Atlassian Statuspage: history.atom, and the JSON API beside it
  (api/v2/incidents.json, scheduled-maintenances.json, summary.json): one open incident on
  "Actions" and a maintenance window two days from now;
* /openai/      -- incident.io: feed.atom with one open incident, api/v2/summary.json;
* /instatus/    -- Instatus: summary.json (an open incident) and v2/components.json;
* /betterstack/ -- Better Stack: index.json (a report on the API, components in sections);
* /statusio/    -- Status.io: its RSS feed and its public status API (components, an incident);
* /gcp/incidents.json     -- Google Cloud's incident history (one open incident);
* /aws/currentevents      -- AWS Health's current events, in UTF-16 as AWS sends them;
* /slack/api/v2.0.0/current, /cachet/api/v1/incidents, /sorry/api/v1/notices,
  /salesforce/v1/instances/NA1/status -- Slack's, Cachet's, Sorry's and Salesforce Trust's
  JSON, each with an incident open now;
* /broken/feed.atom       -- answers 503.

Enter in its terminal, or POST /github/advance, moves the GitHub incident one step on
(Identified, then Resolved), so a running tracker has something to report.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from html import escape

from aiohttp import web

STEPS = [
    ("investigating", "Investigating", "We are investigating failed Actions runs.",
     "major_outage"),
    ("identified", "Identified", "A bad deploy is the cause; rolling it back.", "partial_outage"),
    ("resolved", "Resolved", "This incident has been resolved.", "operational"),
]


class Pages:
    def __init__(self) -> None:
        self.started = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
        self.step = 1  # how many of STEPS are posted

    def at(self, n: int) -> datetime:
        return self.started + timedelta(minutes=10 * n)

    def github_feed(self) -> bytes:
        blocks = "".join(
            f"<p><small>{self.at(n):%b} <var data-var='date'>{self.at(n).day}</var>, "
            f"<var data-var='time'>{self.at(n):%H:%M}</var> UTC</small><br>"
            f"<strong>{word}</strong> - {text}</p>"
            for n, (_, word, text, _) in reversed(list(enumerate(STEPS[: self.step]))))
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            "<id>tag:status.example.test,2005:/history</id><title>Example GitHub Status</title>"
            f"<updated>{self.at(self.step - 1):%Y-%m-%dT%H:%M:%SZ}</updated>"
            "<entry><id>tag:status.example.test,2005:Incident/1</id>"
            f"<published>{self.at(0):%Y-%m-%dT%H:%M:%SZ}</published>"
            f"<updated>{self.at(self.step - 1):%Y-%m-%dT%H:%M:%SZ}</updated>"
            '<link rel="alternate" type="text/html" '
            'href="https://status.example.test/incidents/act1"/>'
            "<title>Actions runs failing</title>"
            f'<content type="html">{escape(blocks)}</content></entry></feed>\n').encode()

    def incident(self) -> dict[str, object]:
        updates = [{"id": f"u{n}", "status": status, "body": text,
                    "created_at": f"{self.at(n):%Y-%m-%dT%H:%M:%S}.250Z",
                    "display_at": f"{self.at(n):%Y-%m-%dT%H:%M:%S}.250Z",
                    "affected_components": [{"code": "c-act", "name": "Actions",
                                             "old_status": "operational", "new_status": state}]}
                   for n, (status, _, text, state) in enumerate(STEPS[: self.step])]
        return {"id": "act1", "name": "Actions runs failing", "impact": "major",
                "status": STEPS[self.step - 1][0], "shortlink": "https://stspg.example.test/act1",
                "incident_updates": list(reversed(updates)),
                "components": [{"id": "c-act", "name": "Actions",
                                "status": STEPS[self.step - 1][3]}]}

    def maintenance(self) -> dict[str, object]:
        start = self.started + timedelta(days=2)
        return {"id": "mnt1", "name": "Database upgrade", "status": "scheduled",
                "impact": "maintenance", "shortlink": "https://stspg.example.test/mnt1",
                "scheduled_for": f"{start:%Y-%m-%dT%H:%M:%S}Z",
                "scheduled_until": f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M:%S}Z",
                "incident_updates": [{"id": "m1", "status": "scheduled",
                                      "body": "We will upgrade the database.",
                                      "created_at": f"{self.started:%Y-%m-%dT%H:%M:%S}Z",
                                      "affected_components": [
                                          {"code": "c-db", "name": "Database",
                                           "old_status": "operational",
                                           "new_status": "operational"}]}],
                "components": [{"id": "c-db", "name": "Database", "status": "operational"}]}

    def advance(self) -> str:
        self.step = min(len(STEPS), self.step + 1)
        said = f"GitHub incident now at: {STEPS[self.step - 1][1]}"
        print(said, file=sys.stderr, flush=True)
        return said

    def github_api(self, doc: str) -> dict[str, object] | None:
        body: dict[str, object] = {"page": {"id": "example", "name": "GitHub"}}
        if doc == "incidents.json":
            body["incidents"] = [self.incident()]
        elif doc == "scheduled-maintenances.json":
            body["scheduled_maintenances"] = [self.maintenance()]
        elif doc == "summary.json":
            state = STEPS[self.step - 1][3]
            body["components"] = [
                {"id": "c-act", "name": "Actions", "status": state, "group_id": None},
                {"id": "c-db", "name": "Database", "status": "operational", "group_id": None},
                {"id": "g-git", "name": "Git", "status": "operational", "group": True},
                {"id": "c-push", "name": "Push", "status": "operational", "group_id": "g-git"},
                {"id": "c-clone", "name": "Clone", "status": "operational",
                 "group_id": "g-git"}]
            body["incidents"] = [self.incident()] if self.step < len(STEPS) else []
            body["scheduled_maintenances"] = [self.maintenance()]
        else:
            return None
        return body

    def openai_feed(self) -> str:
        html = ("<b>Status: Investigating</b><br/><br/>We are investigating elevated error "
                "rates.<br/><br/><b>Affected components</b><ul>"
                "<li>Conversations (Degraded performance)</li></ul>")
        return ('<?xml version="1.0" encoding="utf-8"?>\n'
                '<feed xmlns="http://www.w3.org/2005/Atom"><id>https://status.example.test/</id>'
                f"<title>Example OpenAI status</title><updated>{datetime.now(UTC).isoformat()}"
                '</updated><entry><title type="html">Elevated error rates in ChatGPT</title>'
                "<id>https://status.example.test//incidents/01KEXAMPLE</id>"
                '<link href="https://status.example.test//incidents/01KEXAMPLE"/>'
                f"<updated>{self.at(2):%Y-%m-%dT%H:%M:%S}.000Z</updated>"
                f'<content type="html">{escape(html)}</content></entry></feed>\n')

    def instatus(self, doc: str) -> dict[str, object] | None:
        if doc == "summary.json":
            return {"page": {"name": "Example Instatus", "url": "https://status.example.test",
                             "status": "HASISSUES"},
                    "activeIncidents": [{
                        "id": "ck-login", "name": "Login failures", "status": "IDENTIFIED",
                        "impact": "PARTIALOUTAGE", "started": f"{self.at(1):%Y-%m-%dT%H:%M:%S}Z",
                        "url": "https://status.example.test/incident/ck-login"}],
                    "activeMaintenances": []}
        if doc == "v2/components.json":
            return {"components": [
                {"id": "c1", "name": "Login", "status": "PARTIALOUTAGE", "group": None},
                {"id": "c2", "name": "Website", "status": "OPERATIONAL", "group": None}]}
        return None

    def better_stack(self) -> dict[str, object]:
        return {
            "data": {"id": "1", "type": "status_page", "attributes": {
                "company_name": "Example", "custom_domain": "status.example.test",
                "aggregate_state": "degraded"}},
            "included": [
                {"id": "s1", "type": "status_page_section", "attributes": {"name": "Inference"}},
                {"id": "r1", "type": "status_page_resource", "attributes": {
                    "status_page_section_id": "s1", "public_name": "Chat API",
                    "status": "degraded"}},
                {"id": "r2", "type": "status_page_resource", "attributes": {
                    "status_page_section_id": "s1", "public_name": "Embeddings API",
                    "status": "operational"}},
                {"id": "rep1", "type": "status_report", "attributes": {
                    "title": "Slow chat completions", "report_type": "manual",
                    "starts_at": f"{self.at(3):%Y-%m-%dT%H:%M:%S}.000Z", "ends_at": None,
                    "affected_resources": [{"status_page_resource_id": "r1",
                                            "status": "degraded"}],
                    "aggregate_state": "degraded"},
                 "relationships": {"status_updates": {"data": [
                     {"id": "u1", "type": "status_update"}]}}},
                {"id": "u1", "type": "status_update", "attributes": {
                    "message": "Chat completions are slower than usual; we are scaling up.",
                    "published_at": f"{self.at(3):%Y-%m-%dT%H:%M:%S}.000Z",
                    "affected_resources": []}}]}

    def status_io(self, doc: str) -> str | dict[str, object] | None:
        if doc == f"pages/{STATUS_IO_ID}/rss":
            return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                    "<title>Example Status.io</title><link>https://status.example.test</link>"
                    "<item><title>Slow git pushes</title>"
                    f"<guid>https://status.example.test/pages/incident/{STATUS_IO_ID}/inc1</guid>"
                    "<link>https://status.example.test/pages/incident/</link>"
                    f"<pubDate>{self.at(4):%a, %d %b %Y %H:%M:%S} GMT</pubDate>"
                    "<description>Git pushes are slow; we are looking into it."
                    "</description></item></channel></rss>\n")
        if doc == f"1.0/status/{STATUS_IO_ID}":
            return {"result": {
                "status_overall": {"status": "Degraded Performance", "status_code": 300},
                "status": [
                    {"id": "c1", "name": "Git Operations", "status_code": 300, "containers": [
                        {"id": "k1", "name": "us-east", "status_code": 300},
                        {"id": "k2", "name": "eu-west", "status_code": 100}]},
                    {"id": "c2", "name": "Website", "status_code": 100, "containers": []}],
                "incidents": [], "maintenance": {"active": [], "upcoming": []}}}
        return None

    def google_cloud(self) -> list[dict[str, object]]:
        when = f"{self.at(2):%Y-%m-%dT%H:%M:%S}+00:00"
        return [{
            "id": "gc-example", "number": "1", "begin": when, "created": when, "end": None,
            "modified": when, "external_desc": "Elevated latency for Cloud Storage",
            "severity": "medium", "status_impact": "SERVICE_DISRUPTION",
            "uri": "incidents/gc-example", "service_name": "Cloud Storage",
            "affected_products": [{"title": "Cloud Storage", "id": "p1"}],
            "currently_affected_locations": [{"id": "europe-west1",
                                              "title": "Belgium (europe-west1)"}],
            "updates": [{"created": when, "modified": when, "when": when,
                         "status": "SERVICE_DISRUPTION",
                         "text": "We are investigating elevated latency.",
                         "affected_locations": [{"id": "europe-west1",
                                                 "title": "Belgium (europe-west1)"}]}]}]

    def aws(self) -> bytes:
        start = int(self.at(1).timestamp())
        events = [{
            "date": str(start), "region_name": "Ireland", "status": "2",
            "arn": "arn:aws:health:eu-west-1::event/LAMBDA/AWS_LAMBDA_OPERATIONAL_ISSUE/EX_1",
            "service": "lambda-eu-west-1", "service_name": "AWS Lambda",
            "summary": "Increased invocation errors",
            "event_log": [{"summary": "Increased invocation errors", "status": 2,
                           "message": "We are investigating increased invocation errors.",
                           "timestamp": start}],
            "impacted_services": {"lambda-eu-west-1": {"service_name": "AWS Lambda",
                                                       "current": "2", "max": "2"}}}]
        return json.dumps(events).encode("utf-16")  # with its byte order mark, as AWS sends

    def slack(self) -> dict[str, object]:
        """Slack's status API (api/v2.0.0/current): an incident open now, with its notes."""
        when = f"{self.at(2):%Y-%m-%dT%H:%M:%S}-00:00"
        return {"status": "active", "date_created": when, "date_updated": when,
                "active_incidents": [{
                    "id": 1201, "title": "Some messages are delayed", "type": "incident",
                    "status": "active", "url": "https://status.example.test/2026-12/1201",
                    "date_created": when, "date_updated": when, "services": ["Messaging"],
                    "notes": [{"date_created": when,
                               "body": "Some messages take minutes to arrive."}]}]}

    def cachet(self) -> dict[str, object]:
        """Cachet 2's api/v1/incidents: one incident being worked on."""
        return {"meta": {"pagination": {"total": 1}}, "data": [{
            "id": 31, "component_id": 0, "name": "Queue backlog", "status": 2, "visible": 1,
            "message": "Jobs queue up; we found the cause.", "human_status": "Identified",
            "created_at": f"{self.at(1):%Y-%m-%d %H:%M:%S}",
            "updated_at": f"{self.at(2):%Y-%m-%d %H:%M:%S}"}]}

    def sorry(self) -> dict[str, object]:
        """Sorry's notices: an unplanned one open now, and planned work tomorrow."""
        return {"notices": [
            {"id": 5, "type": "unplanned", "state": "investigating", "subject": "Login errors",
             "synopsis": "Some logins fail; we are looking into it.",
             "began_at": f"{self.at(3):%Y-%m-%dT%H:%M:%S}.000Z",
             "link": "https://status.example.test/notices/5"},
            {"id": 6, "type": "planned", "state": "scheduled", "subject": "Database upgrade",
             "synopsis": "An hour of work.",
             "begins_at": f"{self.at(0) + timedelta(days=1):%Y-%m-%dT%H:%M:%S}.000Z",
             "ends_at": f"{self.at(6) + timedelta(days=1):%Y-%m-%dT%H:%M:%S}.000Z"}]}

    def salesforce(self) -> dict[str, object]:
        """Salesforce Trust's instance status: a major incident on Core."""
        when = f"{self.at(1):%Y-%m-%dT%H:%M:%S}.000Z"
        return {"key": "NA1", "status": "MAJOR_INCIDENT_CORE", "Incidents": [{
            "id": 77, "createdAt": when, "serviceKeys": ["Core"],
            "IncidentImpacts": [{"startTime": when, "endTime": None, "severity": "major"}],
            "IncidentEvents": [{"type": "update", "createdAt": when,
                                "message": "Logins fail on NA1; we are restarting servers."}]}],
            "Maintenances": []}

    def home(self, name: str) -> str | None:
        """A page's HTML home, for discovery: its alternate feed link, the platform's marks."""
        head = HOMES.get(name)
        if head is None:
            return None
        return (f"<!DOCTYPE html><html><head><title>Example {name} Status</title>{head}"
                "</head><body><h1>All systems operational?</h1></body></html>\n")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        site, _, rest = path.strip("/").partition("/")
        if path == "/github/advance" and request.method == "POST":
            return web.Response(text=self.advance() + "\n")
        if path.endswith("/") and (page := self.home(site)) is not None:
            return web.Response(text=page, content_type="text/html")
        found: object = None
        if path == "/github/history.atom":
            found = web.Response(body=self.github_feed(), content_type="application/atom+xml")
        elif site in ("github", "openai") and rest.startswith("api/v2/"):
            found = self.github_api(rest.removeprefix("api/v2/")) if site == "github" else (
                {"page": {"id": "openai", "name": "OpenAI"}, "components": [
                    {"id": "c1", "name": "Conversations", "status": "degraded_performance"},
                    {"id": "c2", "name": "API", "status": "operational"}], "incidents": []}
                if rest == "api/v2/summary.json" else None)
        elif path == "/openai/feed.atom":
            found = web.Response(text=self.openai_feed(), content_type="application/atom+xml")
        elif site == "instatus":
            found = self.instatus(rest)
        elif path == "/betterstack/index.json":
            found = self.better_stack()
        elif site == "statusio":
            found = self.status_io(rest)
        elif path == "/gcp/incidents.json":
            found = self.google_cloud()
        elif path == "/aws/currentevents":
            found = web.Response(body=self.aws(), content_type="application/json")
        elif path == "/slack/api/v2.0.0/current":
            found = self.slack()
        elif path == "/cachet/api/v1/incidents":
            found = self.cachet()
        elif path == "/sorry/api/v1/notices":
            found = self.sorry()
        elif path == "/salesforce/v1/instances/NA1/status":
            found = self.salesforce()
        elif path == "/broken/feed.atom":
            found = web.Response(status=503, text="down for maintenance")
        if isinstance(found, web.StreamResponse):
            return found
        if isinstance(found, str):
            return web.Response(text=found, content_type="application/rss+xml")
        if found is not None:
            return web.json_response(found)
        raise web.HTTPNotFound()


STATUS_IO_ID = "5f0c1c1e2d3b4a5968778899"
# What each home page carries in its <head>: the feed it links, the platform's own marks.
HOMES = {
    "github": '<link rel="alternate" type="application/atom+xml" href="history.atom">'
              '<script src="https://dka575ofm4ao0.cloudfront.net/cdn.statuspage.io.js"></script>',
    "openai": '<meta name="generator" content="incident.io status pages">'
              '<link rel="alternate" type="application/atom+xml" href="feed.atom">',
    "instatus": '<link rel="icon" href="https://instatus.com/favicon-32x32.png">',
    "betterstack": '<link rel="stylesheet" href="https://uptime.betterstack.com/status.css">',
    "statusio": f'<link rel="alternate" type="application/rss+xml" '
                f'href="/statusio/pages/{STATUS_IO_ID}/rss">'
                '<script src="https://cdn.status.io/status.js"></script>',
}


def read_enter(loop: asyncio.AbstractEventLoop, pages: Pages) -> None:
    """Each Enter typed in this terminal moves the GitHub incident on. A thread, because
    reading a console without blocking the loop is not portable (Windows)."""
    for _ in sys.stdin:
        loop.call_soon_threadsafe(pages.advance)


async def serve(port: int) -> int:
    pages = Pages()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", pages.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    try:
        await site.start()
    except OSError as exc:
        print(f"local_pages.py: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc} "
              "(is it already running? give another port: python examples/local_pages.py "
              "8766)", file=sys.stderr)
        await runner.cleanup()
        return 1
    bound = runner.addresses[0][1]  # the port the system gave, when asked for port 0
    print(f"serving on http://127.0.0.1:{bound}/ (Enter: the GitHub incident moves on; "
          "Ctrl+C: stop)", file=sys.stderr, flush=True)
    threading.Thread(target=read_enter, args=(asyncio.get_running_loop(), pages),
                     daemon=True).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
    return 0


def main() -> int:
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and not sys.argv[1].isdigit()):
        print("usage: python examples/local_pages.py [PORT]", file=sys.stderr)
        return 2
    try:
        return asyncio.run(serve(int(sys.argv[1]) if len(sys.argv) > 1 else 8765))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
