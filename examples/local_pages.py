"""Serve made-up status pages on 127.0.0.1 to try status_tracker without the internet.

    python examples/local_pages.py [PORT]    # default port 8765 (0: any free port); Ctrl+C stops

Pages (all invented, in the shapes the real platforms publish):

* /github/history.atom  -- an Atlassian Statuspage page with its JSON API beside it
  (/github/api/v2/incidents.json, scheduled-maintenances.json, summary.json): one open
  incident on "Actions" and a maintenance window two days from now;
* /openai/feed.atom     -- an incident.io feed with one open incident;
* /broken/feed.atom     -- answers 503.

Enter in its terminal, or POST /github/advance, moves the GitHub incident one step on
(Identified, then Resolved), so a running tracker has something to report.
"""

from __future__ import annotations

import asyncio
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

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        open_ = self.step < len(STEPS)
        if path == "/github/advance" and request.method == "POST":
            return web.Response(text=self.advance() + "\n")
        if path == "/github/history.atom":
            return web.Response(body=self.github_feed(), content_type="application/atom+xml")
        if path.startswith("/github/api/v2/"):
            doc = path.removeprefix("/github/api/v2/")
            body: dict[str, object] = {"page": {"id": "example", "name": "GitHub"}}
            if doc == "incidents.json":
                body["incidents"] = [self.incident()]
            elif doc == "scheduled-maintenances.json":
                body["scheduled_maintenances"] = [self.maintenance()]
            elif doc == "summary.json":
                body["components"] = self.incident()["components"]
                body["incidents"] = [self.incident()] if open_ else []
                body["scheduled_maintenances"] = [self.maintenance()]
            else:
                raise web.HTTPNotFound()
            return web.json_response(body)
        if path == "/openai/feed.atom":
            html = ("<b>Status: Investigating</b><br/><br/>We are investigating elevated error "
                    "rates.<br/><br/><b>Affected components</b><ul>"
                    "<li>Conversations (Degraded performance)</li></ul>")
            return web.Response(content_type="application/atom+xml", text=(
                '<?xml version="1.0" encoding="utf-8"?>\n'
                '<feed xmlns="http://www.w3.org/2005/Atom"><id>https://status.example.test/</id>'
                f"<title>Example OpenAI status</title><updated>{datetime.now(UTC).isoformat()}"
                '</updated><entry><title type="html">Elevated error rates in ChatGPT</title>'
                "<id>https://status.example.test//incidents/01KEXAMPLE</id>"
                '<link href="https://status.example.test//incidents/01KEXAMPLE"/>'
                f"<updated>{self.at(2):%Y-%m-%dT%H:%M:%S}.000Z</updated>"
                f'<content type="html">{escape(html)}</content></entry></feed>\n'))
        if path == "/broken/feed.atom":
            return web.Response(status=503, text="down for maintenance")
        raise web.HTTPNotFound()


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
