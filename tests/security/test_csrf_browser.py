"""Another site's page attacks ``/graphql`` through a real Chromium, and no run is launched.

The attacker's site is a plain HTTP server on 127.0.0.2 (another site than 127.0.0.1 for the
browser, so SameSite=Lax cookies stay home). Its pages make the browser post ``launchRun`` the two
ways that need no preflight: an auto-submitting form and a ``no-cors`` fetch. The browser first
visits dagviz, so it holds dagviz's CSRF cookie, as a user's browser would. The UI's own requests
and GraphiQL, from the same browser, keep working.
"""

from __future__ import annotations

import http.server
import threading
from typing import Iterator

import pytest

from runs.models import Run

pytestmark = pytest.mark.django_db(transaction=True)

ATTACKER_HOST = "127.0.0.2"
LAUNCH = 'mutation{launchRun(jobName:"process_directory"){__typename}}'

FORM_PAGE = """<!doctype html><title>win a prize</title>
<form method="POST" action="{target}?raw"><input name="query" value='{launch}'></form>
<script>document.forms[0].submit();</script>"""

FETCH_PAGE = """<!doctype html><title>win a prize</title>
<script>
fetch("{target}", {{mode: "no-cors", method: "POST",
  headers: {{"Content-Type": "application/x-www-form-urlencoded"}},
  body: "query=" + encodeURIComponent('{launch}')}})
  .then(() => {{ document.title = "sent"; }}, (error) => {{ document.title = "failed: " + error; }});
</script>"""


class AttackerSite:
    """An HTTP server on 127.0.0.2 serving fixed pages by path, in a thread of this process."""

    def __init__(self, pages: dict[str, str]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = pages.get(self.path)
                self.send_response(200 if page else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((page or "not found").encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((ATTACKER_HOST, 0), Handler)  # port 0: a free one
        self.base = f"http://{ATTACKER_HOST}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def attacker(ui_server) -> Iterator[AttackerSite]:
    target = f"{ui_server.base}/graphql"
    site = AttackerSite({"/form": FORM_PAGE.format(target=target, launch=LAUNCH),
                         "/fetch": FETCH_PAGE.format(target=target, launch=LAUNCH)})
    yield site
    site.stop()


@pytest.fixture
def victim(browser, ui_server):
    """A browser context that has visited dagviz, so it holds dagviz's csrftoken cookie."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{ui_server.base}/")
    assert any(cookie["name"] == "csrftoken" for cookie in context.cookies(ui_server.base))
    yield page
    context.close()


def graphql_post(ui_server):
    return lambda response: response.url.startswith(f"{ui_server.base}/graphql") and response.request.method == "POST"


@pytest.mark.parametrize("attack", ["/form", "/fetch"])
def test_another_sites_page_cannot_launch_a_run(ui_server, attacker, victim, attack):
    before = Run.objects.count()
    with victim.expect_response(graphql_post(ui_server)) as answer:
        victim.goto(f"{attacker.base}{attack}")
    response = answer.value
    assert response.status == 403  # the browser sent its Origin (Playwright does not list it among the headers)
    if attack == "/form":
        assert attacker.base in response.text(), response.text()  # refused for that Origin
    else:  # the answer to a no-cors fetch is opaque (no body), and the page learns nothing
        victim.wait_for_function("document.title !== 'win a prize'")
        assert victim.title() == "sent"
    assert Run.objects.count() == before, "the attacker's page launched a run"


def test_the_ui_and_graphiql_still_talk_to_graphql_from_the_same_browser(ui_server, victim):
    answer = victim.evaluate("""async () => {
        const { graphql } = await import("/static/dagviz/js/graphql.js");
        return await graphql("{ __typename }");
    }""")
    assert answer == {"__typename": "Query"}

    with victim.expect_response(graphql_post(ui_server)) as introspection:
        victim.goto(f"{ui_server.base}/graphql")
    assert introspection.value.status == 200, introspection.value.text()[:500]
    assert "__schema" in introspection.value.text()
