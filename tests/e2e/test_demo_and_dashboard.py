"""`make demo`'s story runs to the end, then the dashboard on the stack it kept up, in a real
headless Chromium (Debian's `chromium`, driven by Playwright).

One demo serves both: `python -m devstack demo --keep` tells the story (a labelled batch,
an unlabelled one, a drifted one and a clean one), prints its summary and the dashboard's
URL, and keeps its stack up until SIGTERM, when it must stop everything and exit 0. Telling
the story once instead of twice (the demo, then again for the browser) saves a minute of the
suite.

Every request the browser makes is routed through a guard that lets only loopback through
(and records the rest, aborted); console errors are collected. Screenshots go to this test
run's temporary folder (printed), and to docs/dashboard.png when UPDATE_DOCS_SCREENSHOT=1.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devstack.api_client import AppClient

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
STEPS = {"train": "demo-labelled", "score": "demo-unlabelled", "drifted": "demo-drifted",
         "clean": "demo-clean"}


@dataclass
class Demo:
    output: list[str]
    base_url: str
    function_key: str


def _read(proc, lines: list[str], ready: threading.Event) -> None:
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("dashboard:"):
            ready.set()
    ready.set()  # the demo ended without a dashboard line: the fixture reports its output


@pytest.fixture(scope="module")
def demo():
    proc = subprocess.Popen([sys.executable, "-m", "devstack", "demo", "--keep"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    ready = threading.Event()
    reader = threading.Thread(target=_read, args=(proc, lines, ready), daemon=True)
    reader.start()
    url = None
    try:
        assert ready.wait(600), "the demo printed no dashboard URL within 600 s"
        url = next((line.split(" ", 1)[1].split()[0] for line in lines
                    if line.startswith("dashboard:")), None)
        assert url, "the demo ended early:\n" + "".join(lines)[-4000:]
        parts = urlsplit(url)
        yield Demo(lines, f"{parts.scheme}://{parts.netloc}", parse_qs(parts.query)["code"][0])
    finally:
        # SIGTERM once the stack is kept up (what the demo documents); Ctrl-C before that,
        # so a demo stuck in its story still stops what it started.
        proc.send_signal(signal.SIGTERM if url else signal.SIGINT)
        code = proc.wait(timeout=120)
        reader.join(timeout=10)
    assert code == 0, "".join(lines)[-4000:]
    with pytest.raises(requests.ConnectionError):  # the kept stack was stopped
        requests.get(url, timeout=5)


@pytest.fixture(scope="module")
def story(demo):
    """The demo's four runs by step, as the API answers them."""
    api = AppClient(demo.base_url, demo.function_key)
    runs = api.runs(50)
    assert len(runs) == len(STEPS), runs
    by_file = {f["name"].rsplit("/", 1)[-1].split(".")[0]: r["batchId"]
               for r in runs for f in r.get("files", [])}
    return {step: api.run(by_file[name]) for step, name in STEPS.items()}


def test_demo_tells_the_whole_story(demo):
    out = "".join(demo.output).replace("[bold]", "")
    for step in ("1. a labelled batch lands", "2. an unlabelled batch lands",
                 "3. a drifted batch lands", "4. a clean batch lands", "demo passed"):
        assert step in out, step
    assert "decision promoted" in out or "first-model" in out
    assert "alert Fired prediction_drift" in out and "alert Resolved prediction_drift" in out
    assert "train-and-score" in out and "3 fired, 3 resolved" in out


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (.ci/run installs it)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dashboard-screenshots")
    print(f"dashboard screenshots: {folder}")
    return folder


class Guarded:
    """A page whose requests may only go to loopback; the rest are aborted and recorded."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._guard)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _guard(self, route):
        url = route.request.url
        self.requests.append(url)
        host = urlsplit(url).hostname
        if url.startswith(("data:", "about:")) or host in LOOPBACK:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def open(self, url: str):
        response = self.page.goto(url, wait_until="load")
        assert response.status == 200, response.text()[:500]
        assert response.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in response.headers["content-security-policy"]
        return response

    def close(self):
        self.context.close()


@pytest.fixture
def guarded(browser):
    g = Guarded(browser)
    yield g
    g.close()
    assert g.blocked == [], f"requests left the loopback address: {g.blocked}"
    assert g.errors == [], f"console errors: {g.errors}"
    assert g.requests, "the guard saw no request at all"


def _url(demo, path: str = "") -> str:
    return f"{demo.base_url}/api/dashboard{path}?code={demo.function_key}"


def _count(page, selector: str) -> int:
    return page.locator(selector).count()


def _center_y(box) -> float:
    return box["y"] + box["height"] / 2


def test_overview_after_the_story(demo, story, guarded, shots):
    page = guarded.page
    guarded.open(_url(demo))
    for section in ("health", "open-alerts", "active-runs", "last-runs", "plot-accuracy",
                    "plot-drift", "plot-stages", "plot-volume", "plot-freshness"):
        assert page.locator(f"section#{section}").is_visible(), section
    runs = list(story.values())
    training = [r for r in runs if r["mode"] == "train-and-score"]
    scoring = [r for r in runs if "Score" in r["outputs"]]
    assert _count(page, "g.point.series-acc") == len(training) == 1
    for series in ("psi", "js", "p"):
        assert _count(page, f"g.point.series-{series}") == len(scoring) == 4
    assert _count(page, "g.point.series-total") == len(runs)
    assert _count(page, "g.point.series-rows") == _count(page, "g.point.series-bytes") == 4
    assert _count(page, "#accuracy-champion") == 1
    assert _count(page, "#plot-freshness g.bar") >= 3
    rows = page.locator("section#last-runs tbody tr")
    assert rows.count() == len(runs)
    for r in runs:
        assert page.locator("section#last-runs").get_by_text(r["batchId"]).count() == 1

    # The drifted run stands out: its PSI point lies in the alert band, the others do not.
    band = page.locator("#drift-psi-alert-band").bounding_box()
    inside = []
    for i in range(len(scoring)):
        point = page.locator("g.point.series-psi").nth(i)
        title = point.locator("title").text_content()
        y = _center_y(point.bounding_box())
        if band["y"] <= y <= band["y"] + band["height"]:
            inside.append(title.split(" ")[0])
    assert inside == [story["drifted"]["batchId"]]
    assert page.locator("g.point.series-psi.level-alert").count() == 1

    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        page.screenshot(path=str(ROOT / "docs" / "dashboard.png"), full_page=False)


def test_run_page_has_one_timeline_bar_per_activity(demo, story, guarded, shots):
    page = guarded.page
    guarded.open(_url(demo))
    train = story["train"]
    page.locator("section#last-runs").get_by_role("link", name=train["batchId"]).click()
    page.wait_for_load_state("load")
    assert "code=" in page.url  # the key travelled with the link
    for section in ("run-summary", "timeline", "activities", "checks", "run-alerts", "outputs"):
        assert page.locator(f"section#{section}").is_visible(), section
    assert len(train["activities"]) == 3
    assert _count(page, "#timeline-svg g.bar") == len(train["activities"])
    assert page.locator("section#activities tbody tr").count() == len(train["activities"])
    assert page.locator("section#checks tbody tr").count() == len(train["checks"])
    for adf_run in train["adfRunIds"]:
        assert page.locator("section#run-summary").get_by_text(adf_run).count() == 1
    page.screenshot(path=str(shots / "run.png"), full_page=True)


def test_alerts_page_shows_the_drift_alerts_fired_and_resolved(demo, story, guarded, shots):
    page = guarded.page
    guarded.open(_url(demo, "/alerts"))
    assert page.locator("section#open").is_visible()
    recent = page.locator("section#recent")
    for kind in ("prediction_drift", "feature_drift"):
        assert recent.get_by_text(kind, exact=True).count() >= 1
    assert recent.locator(".badge.Resolved").count() >= 2
    assert recent.locator(".badge.Fired").count() >= 2
    page.screenshot(path=str(shots / "alerts.png"), full_page=True)


def test_an_unknown_run_is_a_404_and_a_bad_key_is_refused(demo, story, browser):
    context = browser.new_context()
    try:
        missing = context.request.get(_url(demo, "/runs/labelled-00000000000000000000"))
        assert missing.status == 404 and missing.json()["error"] == "unknown run"
        bad = context.request.get(_url(demo, "/runs/..%2F..%2Fetc"))
        assert bad.status in (400, 404)
        assert context.request.get(f"{demo.base_url}/api/dashboard?code=wrong").status == 401
        assert context.request.get(f"{demo.base_url}/api/dashboard").status == 401
    finally:
        context.close()
