"""The three pages, rendered from the data `shared.dashboard.data` gathers (pure: data in,
HTML out). Sections have stable ids (`health`, `open-alerts`, `active-runs`, `last-runs`,
`plot-accuracy`, ... ; `run-summary`, `timeline`, `activities`, `checks`, `run-alerts`,
`outputs`; `open`, `recent`) that the browser tests look for.
"""
from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import quote, urlencode

from shared.dashboard import plots
from shared.dashboard.html import (
    Html,
    Links,
    a,
    badge,
    e,
    figure,
    fmt_num,
    fmt_seconds,
    fmt_time,
    join,
    page,
    section,
    table,
)
from shared.settings import DEFAULT_FEED

SEVERITIES = ("Sev0", "Sev1", "Sev2", "Sev3", "Sev4")
LAST_RUNS = 20
PLOT_WINDOW = 100  # runs per plot (of its kind), newest; the summary keeps 100 per mode
PORTAL = "https://adf.azure.com/en/monitoring/pipelineruns/"


def _since(start, now: datetime) -> float | None:
    try:
        return (now - datetime.fromisoformat(str(start))).total_seconds()
    except (TypeError, ValueError):
        return None


def _level(m: dict | None) -> Html:
    level = (m or {}).get("level")
    return badge(level) if level else e(None)


# --- overview --------------------------------------------------------------------------------
def _health(report: dict | None) -> Html:
    if report is None:
        return Html('<p class="muted">not checked</p>')
    rows = []
    for name, check in (report.get("checks") or {}).items():
        detail = check.get("detail")
        if name == "alertSinks":
            detail = f"{check.get('configured', 0)} sinks configured"
        elif not isinstance(detail, str):
            detail = None
        rows.append([name, badge("ok" if check.get("ok") else "fail"), detail])
    overall = badge("ok" if report.get("ok") else "fail")
    return Html(f"<p>overall {overall}</p>{table(['check', 'state', 'detail'], rows)}")


def _open_alerts(alerts: list[dict], links: Links) -> Html:
    counts = {s: 0 for s in SEVERITIES}
    for al in alerts:
        counts[al.get("severity")] = counts.get(al.get("severity"), 0) + 1
    tiles = "".join(f'<div class="tile" id="sev-{e(s)}">{badge(s)}<b>{counts.get(s, 0)}</b></div>'
                    for s in SEVERITIES)
    rows = [[badge(al.get("severity")), al.get("kind"), al.get("subject"),
             fmt_time(al.get("lastSeen")), al.get("summary")] for al in alerts[:10]]
    more = (f'<p>{a(links.alerts(), f"all {len(alerts)} open alerts and their history")}</p>')
    return Html(f'<div class="tiles">{tiles}</div>'
                f"{table(['severity', 'kind', 'subject', 'last seen', 'summary'], rows, empty='nothing is firing')}"
                f"{more}")


def _active(active: list[dict], live: dict, now: datetime, links: Links) -> Html:
    rows = []
    for r in sorted(active, key=lambda r: str(r.get("startedAt") or r.get("createdAt") or "")):
        status = live.get(r.get("batchId")) or {}
        elapsed = status.get("elapsedSeconds")
        if elapsed is None:
            elapsed = _since(r.get("startedAt") or r.get("createdAt"), now)
        rows.append([a(links.run(r["batchId"]), r["batchId"]), r.get("mode"),
                     status.get("stage") or r.get("status"), fmt_seconds(elapsed),
                     len(r.get("files") or [])])
    return table(["batch", "mode", "stage", "elapsed", "files"], rows, {3, 4},
                 empty="no run in progress")


def _last_runs(points: list[dict], links: Links) -> Html:
    rows = []
    for p in list(reversed(points))[:LAST_RUNS]:
        fired = [n for n in p.get("alerts") or [] if n.get("type") != "Resolved"]
        rows.append([fmt_time(p.get("finishedAt")), a(links.run(p["batchId"]), p["batchId"]),
                     badge(p.get("status")), p.get("mode"), p.get("files"),
                     fmt_seconds(p.get("durationSeconds")), p.get("decision"),
                     fmt_num(p.get("accuracy"), 4),
                     join((f"{n.get('kind')} {n.get('type')}" for n in fired), ", ")
                     if fired else None])
    return table(["finished", "batch", "status", "mode", "files", "duration", "decision",
                  "accuracy", "alerts"], rows, {4, 5, 7}, empty="no finished run yet")


def _accuracy_table(training: list[dict]) -> Html:
    return table(["batch", "finished", "accuracy", "decision", "level"],
                 [[p["batchId"], fmt_time(p.get("finishedAt")), fmt_num(p.get("accuracy"), 4),
                   p.get("decision"), _level(p["checks"].get("metric_regression"))]
                  for p in training], {2})


def _drift_table(scoring: list[dict]) -> Html:
    rows = []
    for p in scoring:
        d = p["checks"].get("prediction_drift") or {}
        rows.append([p["batchId"], fmt_num(d.get("value"), 3), fmt_num(d.get("js"), 3),
                     None if d.get("pValue") is None else f"{d['pValue']:.2g}", _level(d)])
    return table(["batch", "PSI", "JS distance", "p-value", "level"], rows, {1, 2, 3})


def _stages_table(runs: list[dict]) -> Html:
    return table(["batch", "stages", "total", "slow above", "level"],
                 [[p["batchId"], ", ".join(f"{k} {v:.1f} s" for k, v in p["stages"].items()),
                   fmt_seconds(p.get("durationSeconds")),
                   fmt_seconds((p["checks"].get("run_slow") or {}).get("high")),
                   _level(p["checks"].get("run_slow"))] for p in runs], {2, 3})


def _volume_table(runs: list[dict]) -> Html:
    rows = []
    for p in runs:
        r, b = p["checks"].get("row_count_anomaly") or {}, p["checks"].get("file_size_anomaly") or {}
        rows.append([p["batchId"], fmt_num(p.get("rowsIn")),
                     f"{fmt_num(r.get('low'))} to {fmt_num(r.get('high'))}" if "low" in r else None,
                     _level(r), fmt_num(p.get("bytes")),
                     f"{fmt_num(b.get('low'))} to {fmt_num(b.get('high'))}" if "low" in b else None,
                     _level(b)])
    return table(["batch", "rows", "usual rows", "level", "bytes", "usual bytes", "level"],
                 rows, {1, 4})


def _freshness_table(findings: list[dict]) -> Html:
    return table(["subject", "newest", "age", "limit", "level"],
                 [[f["subject"], fmt_time((f.get("context") or {}).get("newestAt")),
                   fmt_seconds((f.get("context") or {}).get("ageSeconds")),
                   fmt_seconds((f.get("context") or {}).get("maxAgeSeconds")),
                   badge(f.get("status"))] for f in findings], {2, 3})


def overview_page(data: dict, links: Links) -> str:
    everything = data["summary"].get("runs") or []
    points = everything[-PLOT_WINDOW:]
    training = [p for p in everything if p.get("mode") == "train-and-score"][-PLOT_WINDOW:]
    scoring = [p for p in everything
               if p.get("status") == "succeeded" and p.get("predictions")][-PLOT_WINDOW:]
    body = [
        section("health", "Health", _health(data.get("health"))),
        section("open-alerts", "Open alerts by severity", _open_alerts(data["alerts"], links)),
        section("active-runs", "Runs in progress",
                _active(data["active"], data.get("live") or {}, data["now"], links)),
        section("plot-freshness", "Freshness",
                figure(plots.freshness_plot(data["freshness"]),
                       _freshness_table(data["freshness"]))),
        section("last-runs", f"Last runs (newest {LAST_RUNS})", _last_runs(points, links),
                wide=True),
        section("plot-accuracy", "Accuracy per training run",
                figure(plots.accuracy_plot(training, data.get("champion"), data["tolerance"]),
                       _accuracy_table(training))),
        section("plot-drift", "Prediction drift per scoring run",
                figure(plots.drift_plot(scoring), _drift_table(scoring))),
        section("plot-stages", "Stage durations per run",
                figure(plots.stages_plot(points), _stages_table(points))),
        section("plot-volume", "Rows and bytes per batch",
                figure(plots.volume_plot(points), _volume_table(points))),
    ]
    return page("Overview", "overview", links, data["now"], body)


# --- run page --------------------------------------------------------------------------------
def _adf_link(run_id: str, factory: str | None) -> Html:
    if not factory:
        return Html(f"<code>{e(run_id)}</code>")
    href = PORTAL + quote(str(run_id), safe="") + "?" + urlencode({"factory": factory})
    return a(href, run_id)


def _outputs(outputs: dict) -> Html:
    parts = []
    for activity, out in (outputs or {}).items():
        rows = []
        for key, value in (out or {}).items() if isinstance(out, dict) else []:
            if isinstance(value, dict):
                shown = (f"{len(value.get('features') or {})} features"
                         if key == "featureStats" else json.dumps(value, default=str)[:300])
            elif isinstance(value, list):
                shown = json.dumps(value, default=str)[:300]
            else:
                shown = value
            rows.append([key, Html(f"<code>{e(shown)}</code>")])
        parts.append(f"<h3>{e(activity)}</h3>{table(['output', 'value'], rows)}")
    return Html("".join(parts) or '<p class="muted">no outputs</p>')


def run_page(data: dict, links: Links) -> str:
    r = data["record"]
    live = (data.get("live") or {})
    factory = data.get("portal")
    acts = r.get("activities") or live.get("activities") or []
    error = r.get("error") or {}
    summary = Html(
        "<dl>"
        + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in (
            ("batch", r.get("batchId")), ("status", badge(r.get("status"))),
            ("stage", live.get("stage")), ("mode", r.get("mode")),
            ("feed", r.get("feed") or DEFAULT_FEED), ("kind", r.get("kind")),
            ("pipeline", r.get("pipeline")), ("instance", r.get("instanceId")), ("started", fmt_time(r.get("startedAt"))),
            ("finished", fmt_time(r.get("finishedAt"))),
            ("duration", fmt_seconds(r.get("durationSeconds"))),
            ("code version", r.get("codeVersion")), ("reruns", r.get("reruns")),
            ("previous batch", r.get("previousBatchId")),
            ("ADF runs", join((_adf_link(i, factory) for i in r.get("adfRunIds") or []), " ")
             if r.get("adfRunIds") else None),
            ("score target", r.get("scoreTarget")),
            ("endpoint job", " ".join(str(x) for x in (
                (r.get("endpointJob") or {}).get("jobId"),
                (r.get("endpointJob") or {}).get("status")) if x) or None),
            ("endpoint output", r.get("endpointOutputPath")),
            ("error", Html(f'<span class="err">{e(error.get("activity"))}: '
                           f'{e(error.get("message"))}</span>') if error else None)))
        + "</dl>")
    files = table(["file", "size"], [[f.get("name"), fmt_num(f.get("size"))]
                                     for f in r.get("files") or []], {1})
    activities = table(
        ["activity", "status", "start", "end", "duration", "attempts", "error"],
        [[x.get("name"), badge(x.get("status")), fmt_time(x.get("start")), fmt_time(x.get("end")),
          fmt_seconds(x.get("durationSeconds")), x.get("attempts"),
          Html(f'<span class="err">{e(x.get("error"))}</span>') if x.get("error") else None]
         for x in acts], {4, 5})
    from shared.reporting.measures import measure

    checks = []
    for f in r.get("checks") or []:
        m = measure(f)
        checks.append([f.get("kind"), f.get("subject"), badge(m["level"]), m["severity"],
                       m["metric"], fmt_num(m["value"], 4), fmt_num(m["low"], 4),
                       fmt_num(m["high"], 4),
                       None if m["pValue"] is None else f"{m['pValue']:.2g}", f.get("summary")])
    alerts = [[n.get("kind"), n.get("subject"), badge(n.get("type")), badge(n.get("severity")),
               _delivery(n.get("delivery"))] for n in r.get("alerts") or []]
    body = [
        section("run-summary", "Run", Html(summary + files)),
        section("timeline", "Timeline", Html(plots.timeline_plot(acts, r.get("startedAt")))),
        section("activities", "Activities", activities, wide=True),
        section("checks", "Checks", table(
            ["check", "subject", "level", "severity", "metric", "value", "low", "high",
             "p-value", "summary"], checks, {5, 6, 7, 8}, empty="not judged yet"), wide=True),
        section("run-alerts", "Alerts raised and resolved", table(
            ["kind", "subject", "notification", "severity", "delivery"], alerts,
            empty="this run raised or resolved no alert")),
        section("outputs", "Outputs", _outputs(r.get("outputs") or {})),
    ]
    return page(f"Run {r.get('batchId')}", "run", links, data["now"], body)


# --- alerts page -----------------------------------------------------------------------------
def _delivery(delivery) -> Html:
    """Per-sink delivery state: {sink: "ok" | "failed: ..." | {...}} as badges."""
    if not delivery:
        return e(None)
    if not isinstance(delivery, dict):
        return e(delivery)
    parts = []
    for sink, state in delivery.items():
        if isinstance(state, dict):
            text = state.get("state") or state.get("status") or json.dumps(state, default=str)
            detail = state.get("error") or state.get("lastError")
        else:
            text, detail = str(state), None
        cls = "ok" if text.startswith(("ok", "delivered", "sent")) else (
            "muted" if text.startswith(("skipped", "pending")) else "fail")
        parts.append(f"{e(sink)} {badge(text.split(':', 1)[0], cls)}"
                     + (f' <span class="muted">{e(detail)}</span>' if detail else ""))
    return Html("<br>".join(parts))


def _history(al: dict, events: list[dict], links: Links) -> Html:
    lines = [f"{e(fmt_time(al.get('firstSeen')))} {badge('Fired')}"]
    for ev in sorted(events, key=lambda x: str(x.get("at"))):
        if ev.get("type") == "Fired" and fmt_time(ev.get("at")) == fmt_time(al.get("firstSeen")):
            continue
        run = a(links.run(ev["batchId"]), "run") if ev.get("batchId") else ""
        lines.append(f"{e(fmt_time(ev.get('at')))} {badge(ev.get('type'))} {run}")
    last = al.get("lastNotification")
    if last in ("Repeat", "Escalated") and not any(ev.get("type") == last for ev in events):
        lines.append(f"{e(fmt_time(al.get('lastNotifiedAt')))} {badge(last)}")
    if al.get("resolvedAt") and not any(ev.get("type") == "Resolved" for ev in events):
        lines.append(f"{e(fmt_time(al.get('resolvedAt')))} {badge('Resolved')}")
    lines.append(f'<span class="muted">seen {e(al.get("count"))} times, '
                 f'{e(al.get("notifications"))} notifications</span>')
    return Html("<br>".join(lines))


def _alert_rows(alerts: list[dict], events: dict, links: Links) -> list[list]:
    rows = []
    for al in alerts:
        evs = events.get(al.get("id")) or []
        delivery = al.get("delivery")
        if delivery is None and evs:
            delivery = evs[-1].get("delivery")
        rows.append([badge(al.get("severity")), badge(al.get("state")), al.get("kind"),
                     al.get("subject"), al.get("summary"), _history(al, evs, links),
                     _delivery(delivery)])
    return rows


def alerts_page(data: dict, links: Links) -> str:
    headers = ["severity", "state", "kind", "subject", "summary", "history", "delivery"]
    open_ids = {al.get("id") for al in data["open"]}
    recent = [al for al in data["recent"] if al.get("id") not in open_ids]
    body = [
        section("open", f"Open alerts ({len(data['open'])})",
                table(headers, _alert_rows(data["open"], data["events"], links),
                      empty="nothing is firing"), wide=True),
        section("recent", "Recent alerts",
                table(headers, _alert_rows(recent, data["events"], links),
                      empty="no resolved alert yet"), wide=True),
    ]
    return page("Alerts", "alerts", links, data["now"], body)
