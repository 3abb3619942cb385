"""The dashboard's pages as HTML: sections, plots with one point per run of their kind, text
alternatives, escaping of hostile data, nothing external, links that keep the key."""
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from shared.checks import evaluate_freshness
from shared.dashboard.html import HEADERS, Links
from shared.dashboard.pages import alerts_page, overview_page, run_page
from shared.reporting.summary import fold, run_point
from tests import run_samples

NOW = datetime(2026, 11, 1, 9, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
FACTORY = "/subscriptions/s/resourceGroups/r/providers/Microsoft.DataFactory/factories/f"


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if "id" in a}

    def count(self, cls_prefix: str) -> int:
        return sum(1 for _, a in self.tags if (a.get("class") or "").startswith(cls_prefix))


@pytest.fixture(scope="module")
def story():
    return run_samples.story()


def _alert(**kw):
    return {"id": "a1", "kind": "prediction_drift", "subject": "predictions",
            "severity": "Sev2", "state": "Fired", "firstSeen": "2026-11-01T07:20:19+00:00",
            "lastSeen": "2026-11-01T07:30:00+00:00", "count": 2, "notifications": 1,
            "lastNotification": "Fired", "summary": HOSTILE, **kw}


@pytest.fixture(scope="module")
def overview(story):
    summary = None
    for r in story:
        summary = fold(summary, run_point(r)) or summary
    settings = run_samples.settings()
    freshness = evaluate_freshness(
        {"newestDataAt": {"labelled": "2026-11-01T06:00:00+00:00", "unlabelled": None},
         "championPromotedAt": "2026-11-01T06:30:00+00:00",
         "newestPredictionsAt": "2026-10-20T06:00:00+00:00"}, NOW, settings)
    active = {"batchId": run_samples.sample_id(99), "mode": "train-and-score",
              "status": "running", "startedAt": "2026-11-01T08:55:00+00:00",
              "files": [{"name": HOSTILE}], "instanceId": "i"}
    data = {"now": NOW, "summary": summary, "tolerance": 0.02, "freshness": freshness,
            "champion": {"version": "m-3", "accuracy": 0.91}, "active": [active],
            "alerts": [_alert(), _alert(id="a2", severity="Sev1")],
            "health": {"ok": False, "checks": {"storage": {"ok": True},
                                                "dataFactory": {"ok": False, "detail": HOSTILE}}},
            "live": {active["batchId"]: {"stage": "Train", "elapsedSeconds": 301}}}
    return overview_page(data, Links(code="k&y/+")), story


def test_overview_has_every_section(overview):
    html, _ = overview
    ids = Tags(html).ids()
    assert {"health", "open-alerts", "active-runs", "last-runs", "plot-accuracy", "plot-drift",
            "plot-stages", "plot-volume", "plot-freshness"} <= ids
    text = " ".join(Tags(html).text)
    assert "Train" in text and "5.0 min" in text  # the active run's live stage and elapsed


def test_each_plot_has_a_point_per_run_of_its_kind(overview):
    html, story = overview
    tags = Tags(html)
    training = [r for r in story if r["mode"] == "train-and-score"]
    scoring = [r for r in story if "Score" in r["outputs"]]
    assert tags.count("point series-acc ") == len(training)
    for series in ("psi", "js", "p"):
        assert tags.count(f"point series-{series} ") == len(scoring)
    assert tags.count("point series-total ") == len(story)
    assert tags.count("point series-rows ") == tags.count("point series-bytes ") == len(story)
    assert tags.count("bar level-") == 4  # data labelled/unlabelled, model, predictions
    assert "accuracy-champion" in tags.ids() and "accuracy-margin" in tags.ids()


def test_the_drifted_run_is_an_alert_point_above_the_band(overview):
    html, story = overview
    drifted = run_samples.sample_id(8, "score")
    points = re.findall(r'<g id="drift-psi-(\d+)" class="point series-psi level-(\w+)">'
                        r"<title>([^<]*)</title>", html)
    alert = [(i, title) for i, level, title in points if level == "alert"]
    assert len(alert) == 1 and alert[0][1].startswith(drifted)
    assert 'id="drift-psi-alert-band"' in html and 'id="drift-warning-band"' in html


def test_every_plot_has_title_axis_labels_and_a_text_alternative(overview):
    html, _ = overview
    svgs = re.findall(r"<svg[^>]*>", html)
    assert len(svgs) == 5
    for svg in svgs:
        name = re.search(r'id="([\w-]+)-svg"', svg).group(1)
        assert f'aria-labelledby="{name}-title {name}-desc"' in svg
        assert f'<title id="{name}-title">' in html and f'<desc id="{name}-desc">' in html
    for label in ("hold-out accuracy", "training runs, oldest to newest", "PSI",
                  "JS distance", "-log10 p", "seconds", "rows in", "bytes",
                  "age, % of the limit"):
        assert label in html
    assert html.count("<details>") == 5  # each plot's data as a table


def test_hostile_data_is_escaped_and_nothing_external_loads(overview):
    html, _ = overview
    tags = Tags(html)
    assert [t for t, _ in tags.tags if t in ("script", "iframe", "object", "embed", "link",
                                             "img", "image", "form")] == []
    assert not [a for _, a in tags.tags if any(k.startswith("on") for k in a)]
    assert "&lt;script&gt;" in html and HOSTILE not in html
    hrefs = [a["href"] for t, a in tags.tags if t == "a"]
    assert hrefs and all(h.startswith("/api/dashboard") for h in hrefs)
    assert all("code=k%26y%2F%2B" in h for h in hrefs)  # the key travels, encoded
    assert re.findall(r"url\((?!#)", html) == [] and "@import" not in html  # only #refs
    assert {v for _, a in tags.tags for k, v in a.items() if k.endswith("href")
            and not v.startswith(("/api/dashboard", "#"))} == set()
    assert "script-src" not in HEADERS["Content-Security-Policy"]  # default-src 'none'


def test_run_page_timeline_checks_alerts_and_outputs(story):
    rec = {**story[8], "error": {"activity": "Score", "message": HOSTILE}}
    html = run_page({"now": NOW, "record": rec, "live": None, "portal": None}, Links())
    tags = Tags(html)
    assert {"run-summary", "timeline", "activities", "checks", "run-alerts", "outputs"} <= (
        tags.ids())
    assert tags.count("bar status-") == len(rec["activities"])
    assert HOSTILE not in html and "&lt;img src=x" in html
    assert "prediction_drift" in html and "1.1223" in html  # value as the finding carried it
    assert f"adf-{rec['batchId']}" in html and "adf.azure.com" not in html  # local: no link


def test_run_ids_link_to_the_data_factory_monitoring_page_in_azure(story):
    html = run_page({"now": NOW, "record": story[0], "live": None, "portal": FACTORY},
                    Links())
    links = [a["href"] for t, a in Tags(html).tags if t == "a" and "adf.azure.com" in a["href"]]
    assert links == [f"https://adf.azure.com/en/monitoring/pipelineruns/adf-{story[0]['batchId']}"
                     "?factory=%2Fsubscriptions%2Fs%2FresourceGroups%2Fr%2Fproviders%2F"
                     "Microsoft.DataFactory%2Ffactories%2Ff"]


def test_a_running_run_shows_its_live_stage(story):
    rec = {**run_samples.record(50), "status": "running", "finishedAt": None, "checks": []}
    html = run_page({"now": NOW, "record": rec, "portal": None,
                     "live": {"stage": "Train", "activities": rec["activities"]}}, Links())
    assert "not judged yet" in html and ">Train<" in html


def test_alerts_page_history_and_delivery_per_sink(story):
    delivered = _alert(delivery={"webhook-1": {"state": "delivered"},
                                 "teams": {"state": "failed", "error": "HTTP 500"}})
    resolved = _alert(id="a0", state="Resolved", resolvedAt="2026-11-01T08:00:00+00:00",
                      lastNotification="Escalated", lastNotifiedAt="2026-11-01T07:40:00+00:00")
    events = {"a0": [{"type": "Fired", "at": "2026-11-01T07:20:19+00:00",
                      "batchId": story[8]["batchId"], "delivery": {"slack": "failed: timeout"}}]}
    html = alerts_page({"now": NOW, "open": [delivered], "recent": [delivered, resolved],
                        "events": events}, Links())
    tags = Tags(html)
    assert {"open", "recent"} <= tags.ids()
    open_part, recent_part = html.split('id="recent"')
    assert "webhook-1" in open_part and "delivered" in open_part and "HTTP 500" in open_part
    assert all(word in recent_part for word in ("Fired", "Escalated", "Resolved", "slack"))
    assert HOSTILE not in html


def test_an_empty_dashboard_renders():
    data = {"now": NOW, "summary": {"runs": []}, "tolerance": 0.02, "freshness": [],
            "champion": None, "active": [], "alerts": [], "health": None, "live": {}}
    html = overview_page(data, Links())
    assert html.count("<svg") == 5 and "no run in progress" in html


def test_routes_are_registered_with_function_auth():
    from tests.app_index import app_functions

    routes = {}
    for f in app_functions():
        for b in f.get_bindings():
            d = b.get_dict_repr()
            if d.get("type") == "httpTrigger" and str(d.get("route", "")).startswith("dashboard"):
                routes[d["route"]] = getattr(d["authLevel"], "value", d["authLevel"])
    assert routes == {"dashboard": "function", "dashboard/runs/{id}": "function",
                      "dashboard/alerts": "function"}


def test_points_are_drawn_whatever_their_scale():
    """Points are drawn as one artist per series after the axes are set up: the limits must
    still include them (an axis with no range lines, values far from 0..1)."""
    from shared.dashboard import plots

    points = [{"batchId": f"b{i}", "rowsIn": 600.0, "bytes": 90000.0 + i, "checks": {
        "row_count_anomaly": {"level": "insufficient-history", "value": 600.0},
        "file_size_anomaly": {"level": "insufficient-history", "value": 90000.0 + i}}}
        for i in range(4)]
    svg = plots.volume_plot(points)
    assert svg.count('class="point series-rows ') == svg.count('class="point series-bytes ') == 4


def test_an_endpoint_run_page_shows_the_endpoint_job(story):
    rec = {**story[8], "pipeline": "score_batch_endpoint", "scoreTarget": "aml-endpoint",
           "endpointJob": {"jobId": "batchjob-1234", "status": "Completed", "error": None},
           "endpointOutputPath": "predictions/b/endpoint/b/predictions.csv"}
    html = run_page({"now": NOW, "record": rec, "live": None, "portal": None}, Links())
    assert "<dt>endpoint job</dt><dd>batchjob-1234 Completed</dd>" in html
    assert "predictions/b/endpoint/b/predictions.csv" in html and "aml-endpoint" in html
