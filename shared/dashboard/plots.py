"""The dashboard's plots: inline SVG drawn by matplotlib (object API, no pyplot, no global
figure state), imported only here and only when a dashboard page is rendered, so the app's
cold start never pays for it.

Every plot has a title, axis labels and a text alternative (`<title>` and `<desc>` in the
SVG, referenced by `aria-labelledby`, and a data table beside it in the page). Every point,
bar and band that a reader (or a test) may look for is a group with an id and a class:

    <g id="<plot>-<series>-<i>" class="point level-<ok|warning|alert|none>"><title>...</title>
    <g id="<plot>-<band>" class="band ...">

so a browser can count a series' points and compare positions, and hovering a point shows
its run. All text that comes from data (batch ids in tooltips) is XML-escaped.

Numbers come from the run summary's points (see `shared.reporting.summary`): what the
findings carried (value, bounds, p-value, level), never recomputed.
"""
from __future__ import annotations

import html
import io
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

LEVEL_COLOURS = {"ok": "#2e7d32", "warning": "#ef8f00", "alert": "#c62828",
                 "insufficient-history": "#9e9e9e", None: "#9e9e9e"}
STAGE_COLOURS = {"Preprocess": "#5c6bc0", "Train": "#8e24aa", "Score": "#00897b"}
STATUS_COLOURS = {"succeeded": "#2e7d32", "failed": "#c62828", "running": "#1565c0",
                  "cancelled": "#757575", "timed_out": "#ef6c00", "queued": "#9e9e9e",
                  "skipped": "#bdbdbd"}
WIDTH, HEIGHT = 7.2, 2.6  # inches at 72 dpi: 518 x 187 px


@lru_cache(maxsize=1)
def _figure_class():
    import matplotlib

    matplotlib.rcParams.update({
        "svg.fonttype": "none",  # real <text>, system fonts: nothing to download or embed
        "font.size": 9, "axes.titlesize": 10, "axes.titleweight": "bold",
        "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "grid.alpha": 0.25,
    })
    from matplotlib.figure import Figure

    return Figure


@dataclass
class Plot:
    """One figure being drawn: the matplotlib Figure plus the tooltips and classes that are
    written into the SVG after matplotlib renders it."""
    name: str
    title: str
    description: str
    rows: int = 1
    height: float = HEIGHT
    tips: dict[str, tuple[str, str]] = field(default_factory=dict)  # gid -> (class, title)

    def __post_init__(self):
        self._batches: dict[tuple, tuple] = {}
        self.figure = _figure_class()(figsize=(WIDTH, self.height), dpi=72,
                                      layout="constrained")
        self.axes = self.figure.subplots(self.rows, 1, sharex=True, squeeze=False)[:, 0]

    def point(self, ax, series: str, i: int, x, y, level: str | None, tip: str,
              marker: str = "o", size: float = 6, colour: str | None = None):
        """A point of `series`; drawn with the others of its look as one artist (fast at a
        hundred points), then split into one `<g id="<plot>-<series>-<i>">` per point."""
        colour = colour or LEVEL_COLOURS.get(level, LEVEL_COLOURS[None])
        key = (id(ax), series, level, marker, size, colour)
        if key not in self._batches:
            self._batches[key] = (ax, [])
        cls = f"point series-{series} level-{level or 'none'}"
        self._batches[key][1].append((f"{self.name}-{series}-{i}", x, y, cls, tip))
        ax.update_datalim([(x, y)])  # limits set before drawing must already include it
        ax.autoscale_view()

    def _draw_points(self) -> dict[str, list]:
        groups = {}
        for k, ((_, _, _, marker, size, colour), (ax, pts)) in enumerate(
                self._batches.items()):
            gid = f"{self.name}-batch{k}"
            ax.plot([p[1] for p in pts], [p[2] for p in pts], marker=marker, markersize=size,
                    linestyle="none", color=colour, markeredgecolor="#212121",
                    markeredgewidth=0.5, zorder=3, gid=gid)
            groups[gid] = pts
        return groups

    @staticmethod
    def _split_points(text: str, groups: dict[str, list]) -> str:
        """Wrap the k-th marker (`<use .../>`) of each batch in its point's group."""
        for gid, pts in groups.items():
            start = text.find(f'<g id="{gid}">')
            if start < 0:
                continue
            end = text.find('<g id="', start + 1)  # this batch's markers end before it
            end = len(text) if end < 0 else end
            out, pos = [], start
            for pid, _, _, cls, tip in pts:
                m = re.compile(r"<use [^>]*/>").search(text, pos, end)
                if m is None:
                    break
                out.append(text[pos:m.start()])
                out.append(f'<g id="{pid}" class="{cls}"><title>{html.escape(tip)}</title>'
                           f"{m.group(0)}</g>")
                pos = m.end()
            text = text[:start] + "".join(out) + text[pos:]
        return text

    def band(self, ax, name: str, low: float, high: float, colour: str, label: str):
        gid = f"{self.name}-{name}"
        ax.axhspan(low, high, color=colour, alpha=0.13, gid=gid, label=label, zorder=0)
        self.tips[gid] = (f"band {name}", label)

    def svg(self) -> str:
        groups = self._draw_points()
        buf = io.StringIO()
        self.figure.savefig(buf, format="svg", metadata={"Date": None})
        text = self._split_points(buf.getvalue(), groups)
        text = text[text.index("<svg"):]  # no XML declaration or DOCTYPE inline
        text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, count=1, flags=re.S)
        def tooltip(m):
            gid = m.group(1)
            if gid not in self.tips:
                return m.group(0)
            cls, tip = self.tips[gid]
            return f'<g id="{gid}" class="{cls}"><title>{html.escape(tip)}</title>'

        text = re.sub(r'<g id="([^"]+)">', tooltip, text)  # one pass, whatever the points
        title_id, desc_id = f"{self.name}-title", f"{self.name}-desc"
        m = re.match(r'<svg [^>]*width="([\d.]+)pt" height="([\d.]+)pt"', text)
        text = re.sub(r' width="[\d.]+pt" height="[\d.]+pt"', "", text, count=1)
        attrs = (f' role="img" aria-labelledby="{title_id} {desc_id}" class="plot"'
                 f' id="{self.name}-svg"')
        if m:
            attrs += f' style="max-width:{float(m.group(1)):.0f}px"'
        text = text.replace("<svg ", f"<svg{attrs} ", 1)
        head = (f'<title id="{title_id}">{html.escape(self.title)}</title>'
                f'<desc id="{desc_id}">{html.escape(self.description)}</desc>')
        return re.sub(r"(<svg[^>]*>)", lambda mm: mm.group(1) + head, text, count=1)


def _finite(*values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def _when(p: dict) -> str:
    return str(p.get("finishedAt") or p.get("startedAt") or "")[:16].replace("T", " ")


def _legend(ax, **kw):
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, frameon=False, **kw)


def _x_axis(ax, n: int, what: str):
    ax.set_xlabel(f"{what}, oldest to newest (n = {n})")
    ax.set_xlim(0.4, max(n, 1) + 0.6)
    if n <= 12:
        ax.set_xticks(range(1, n + 1))


def _empty(plot: Plot, what: str) -> str:
    ax = plot.axes[0]
    ax.text(0.5, 0.5, f"no {what} yet", ha="center", va="center", transform=ax.transAxes,
            color="#757575")
    ax.set_xticks([])
    ax.set_yticks([])
    return plot.svg()


# --- the overview's plots ------------------------------------------------------------------
def accuracy_plot(training: list[dict], champion: dict | None, tolerance: float) -> str:
    """Hold-out accuracy per training run; the champion starred; the regression margin
    (champion accuracy less the tolerance) drawn as a line with the band under it."""
    champ_version = (champion or {}).get("version")
    champ_acc = (champion or {}).get("accuracy")
    desc = (f"{len(training)} training runs. Champion {champ_version or 'none'}"
            + (f" at accuracy {champ_acc:.4f}; regression below {champ_acc - tolerance:.4f}"
               if _finite(champ_acc) else "") + ".")
    plot = Plot("accuracy", "Model accuracy per training run", desc)
    ax = plot.axes[0]
    if not training:
        return _empty(plot, "training runs")
    values = []
    for i, p in enumerate(training, 1):
        acc = p.get("accuracy")
        level = (p.get("checks", {}).get("metric_regression") or {}).get("level", "ok")
        if not _finite(acc):  # a failed training run: shown on the axis, not judged
            plot.point(ax, "acc", i, i, ax.get_ylim()[0] if values else 0.0, "none",
                       f"{p.get('batchId')} ({_when(p)}): {p.get('status')}, no accuracy",
                       marker="x")
            continue
        values.append(acc)
        plot.point(ax, "acc", i, i, acc, level,
                   f"{p.get('batchId')} ({_when(p)}): accuracy {acc:.4f}, "
                   f"{p.get('decision') or '-'}, model {p.get('modelVersion') or '-'}")
        if champ_version and p.get("modelVersion") == champ_version:
            ax.plot([i], [acc], marker="*", markersize=16, linestyle="none", color="#fdd835",
                    markeredgecolor="#212121", gid="accuracy-champion", zorder=4)
            plot.tips["accuracy-champion"] = ("champion", f"champion {champ_version}")
    if _finite(champ_acc):
        floor = champ_acc - tolerance
        ax.axhline(floor, color=LEVEL_COLOURS["alert"], linestyle="--", linewidth=1,
                   gid="accuracy-margin", label=f"regression margin ({floor:.3f})")
        plot.tips["accuracy-margin"] = ("margin", f"champion {champ_acc:.4f} - {tolerance:g}")
        lo = min([floor, *values]) - 0.02
        plot.band(ax, "regression-band", lo, floor, LEVEL_COLOURS["alert"],
                  "regression: below the champion by more than the tolerance")
        values.append(lo)
    if values:
        ax.set_ylim(min(values) - 0.005, min(1.0, max(values) + 0.02))
    ax.set_ylabel("hold-out accuracy")
    _x_axis(ax, len(training), "training runs")
    _legend(ax, loc="lower left")
    return plot.svg()


def drift_plot(scoring: list[dict]) -> str:
    """Per scoring run: PSI and JS distance of the predicted class mix against the
    reference, with each one's alert band, and the chi-square p-value with the
    significance line (significant = at least a warning). Colour = the finding's level."""
    judged = [p for p in scoring if _finite((p["checks"].get("prediction_drift") or {})
                                            .get("value"))]
    alerts = sum(1 for p in scoring
                 if (p["checks"].get("prediction_drift") or {}).get("level") == "alert")
    desc = (f"{len(scoring)} scoring runs, {len(judged)} judged for prediction drift, "
            f"{alerts} in the alert band.")
    plot = Plot("drift", "Prediction drift per scoring run", desc, rows=3, height=5.0)
    if not scoring:
        return _empty(plot, "scoring runs")
    psi_ax, js_ax, p_ax = plot.axes
    bands = {"psi": None, "js": None, "alpha": None}
    top = {"psi": 0.3, "js": 0.3, "p": 3.0}
    for i, p in enumerate(scoring, 1):
        d = p["checks"].get("prediction_drift") or {}
        level = d.get("level")
        who = f"{p.get('batchId')} ({_when(p)})"
        if not _finite(d.get("value")):
            for ax, series in ((psi_ax, "psi"), (js_ax, "js"), (p_ax, "p")):
                plot.point(ax, series, i, i, 0.0, "none", f"{who}: not judged ({level})",
                           marker="x")
            continue
        psi, js, pval = d["value"], d.get("js"), d.get("pValue")
        bands["psi"] = d.get("high") or bands["psi"]
        bands["js"] = d.get("jsAlert") or bands["js"]
        bands["alpha"] = d.get("alpha") or bands["alpha"]
        plot.point(psi_ax, "psi", i, i, psi, level, f"{who}: PSI {psi:.3f} ({level})")
        top["psi"] = max(top["psi"], psi * 1.1)
        if _finite(js):
            plot.point(js_ax, "js", i, i, js, level, f"{who}: JS distance {js:.3f} ({level})")
            top["js"] = max(top["js"], js * 1.1)
        if _finite(pval):
            score = -math.log10(max(pval, 1e-300))
            score = min(score, 30.0)  # "p = 0" is drawn at the top of the scale
            plot.point(p_ax, "p", i, i, score, level,
                       f"{who}: p-value {pval:.2g} (significant at {d.get('alpha')})")
            top["p"] = max(top["p"], score * 1.1)
    for ax, key, label in ((psi_ax, "psi", "PSI"), (js_ax, "js", "JS distance")):
        if bands[key]:
            top[key] = max(top[key], bands[key] * 1.3)
            plot.band(ax, f"{key}-alert-band", bands[key], top[key], LEVEL_COLOURS["alert"],
                      f"alert band: significant and {label} >= {bands[key]:g}")
        ax.set_ylim(0, top[key])
        ax.set_ylabel(label)
    if bands["alpha"]:
        line = -math.log10(bands["alpha"])
        top["p"] = max(top["p"], line * 1.5)
        plot.band(p_ax, "warning-band", line, top["p"], LEVEL_COLOURS["warning"],
                  f"significant (p <= {bands['alpha']:g}): at least a warning")
    p_ax.set_ylim(0, top["p"])
    p_ax.set_ylabel("-log10 p")
    for ax in plot.axes:
        _legend(ax, loc="upper left")
    _x_axis(p_ax, len(scoring), "scoring runs")
    return plot.svg()


def stages_plot(runs: list[dict]) -> str:
    """Stage durations per run (stacked), the run's total, and the p95-based limit the
    slow-run check judged it against (p95 of comparable runs x CHECK_RUN_SLOW_FACTOR)."""
    slow = sum(1 for p in runs if (p["checks"].get("run_slow") or {}).get("level") == "alert")
    desc = f"{len(runs)} runs; {slow} judged slow."
    plot = Plot("stages", "Stage durations per run", desc)
    ax = plot.axes[0]
    if not runs:
        return _empty(plot, "finished runs")
    names = sorted({n for p in runs for n in p.get("stages") or {}},
                   key=lambda n: (list(STAGE_COLOURS).index(n) if n in STAGE_COLOURS else 99, n))
    bottom = [0.0] * len(runs)
    width = min(14.0, 0.6 * 400 / max(len(runs), 1))  # a bar's width in points
    for name in names:  # one stacked layer per stage name, every run at once
        heights = [float((p.get("stages") or {}).get(name) or 0.0) for p in runs]
        top = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.vlines(range(1, len(runs) + 1), bottom, top, linewidth=width, capstyle="butt",
                  color=STAGE_COLOURS.get(name, "#90a4ae"), label=name, zorder=2)
        bottom = top
    limits_x, limits_y, p95_x, p95_y = [], [], [], []
    for i, p in enumerate(runs, 1):
        total = p.get("durationSeconds")
        rs = p["checks"].get("run_slow") or {}
        if _finite(total):
            plot.point(ax, "total", i, i, total, rs.get("level"),
                       f"{p.get('batchId')} ({_when(p)}): {total:.0f} s "
                       f"({', '.join(f'{k} {v:.0f} s' for k, v in p['stages'].items())})",
                       marker="D", size=5)
        if _finite(rs.get("high"), rs.get("p95")):  # the p95 rule, not the absolute cap
            limits_x += [i - 0.4, i + 0.4, math.nan]
            limits_y += [rs["high"], rs["high"], math.nan]
        if _finite(rs.get("p95")):
            p95_x += [i - 0.4, i + 0.4, math.nan]
            p95_y += [rs["p95"], rs["p95"], math.nan]
    if p95_x:
        ax.plot(p95_x, p95_y, color="#455a64", linestyle=":", linewidth=1.2, gid="stages-p95",
                label="p95 of comparable runs")
    if limits_x:
        ax.plot(limits_x, limits_y, color=LEVEL_COLOURS["alert"], linestyle="--",
                linewidth=1.2, gid="stages-limit", label="slow above (p95 x factor)")
    ax.set_ylabel("seconds")
    _x_axis(ax, len(runs), "runs")
    _legend(ax, loc="upper left", ncols=5)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.25)
    return plot.svg()


def volume_plot(runs: list[dict]) -> str:
    """Rows and bytes per batch, each with the usual range the anomaly check judged it
    against (log-t prediction interval over recent batches of its kind); anomalies red."""
    anomalies = sum(1 for p in runs for k in ("row_count_anomaly", "file_size_anomaly")
                    if (p["checks"].get(k) or {}).get("level") == "alert")
    desc = f"{len(runs)} batches; {anomalies} size or row-count anomalies."
    plot = Plot("volume", "Rows and bytes per batch", desc, rows=2, height=4.0)
    if not runs:
        return _empty(plot, "batches")
    for ax, series, check, key, label in (
            (plot.axes[0], "rows", "row_count_anomaly", "rowsIn", "rows in"),
            (plot.axes[1], "bytes", "file_size_anomaly", "bytes", "bytes")):
        range_x, range_y = [], []
        for i, p in enumerate(runs, 1):
            m = p["checks"].get(check) or {}
            value = m.get("value", p.get(key))
            if not _finite(value):
                continue
            if _finite(m.get("low"), m.get("high")):
                range_x += [i, i, math.nan]
                range_y += [m["low"], m["high"], math.nan]
            level = m.get("level")
            plot.point(ax, series, i, i, value, level,
                       f"{p.get('batchId')} ({_when(p)}): {value:,.0f} {label}"
                       + (f" (usual {m['low']:,.0f} to {m['high']:,.0f})"
                          if _finite(m.get("low"), m.get("high")) else "")
                       + (" ANOMALY" if level == "alert" else ""),
                       marker="X" if level == "alert" else "o",
                       size=9 if level == "alert" else 6)
        if range_x:
            ax.plot(range_x, range_y, color="#90a4ae", linewidth=4, alpha=0.6,
                    solid_capstyle="butt", zorder=1, label="usual range")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        _legend(ax, loc="upper left")
    _x_axis(plot.axes[1], len(runs), "batches")
    return plot.svg()


def freshness_plot(findings: list[dict]) -> str:
    """Age of the newest data (per kind), champion model and predictions as a share of
    their limits: a bar past 100% is stale."""
    ages = [f for f in findings if f.get("kind") in ("data_stale", "model_stale",
                                                     "predictions_stale")]
    stale = [f["subject"] for f in ages if f.get("status") == "alert"]
    desc = (f"{len(ages)} freshness checks; stale: {', '.join(stale) or 'none'}.")
    plot = Plot("freshness", "Freshness against limits", desc, height=2.2)
    ax = plot.axes[0]
    if not ages:
        return _empty(plot, "freshness facts")
    labels, top = [], 125.0
    for i, f in enumerate(ages):
        ctx = f.get("context") or {}
        limit, age = ctx.get("maxAgeSeconds"), ctx.get("ageSeconds")
        name = {"data_stale": "data", "model_stale": "model",
                "predictions_stale": "predictions"}[f["kind"]]
        if ":" in f.get("subject", ""):
            name += " " + f["subject"].split(":", 1)[1]
        labels.append(name)
        gid = f"freshness-bar-{i}"
        if _finite(age, limit) and limit > 0:
            share = 100.0 * age / limit
            top = max(top, share * 1.25)
            ax.barh([i], [share], color=LEVEL_COLOURS.get(f.get("status")), height=0.6,
                    gid=gid, zorder=2)
            tip = f"{name}: {age / 3600:.1f} h old of {limit / 3600:g} h allowed"
            ax.text(share, i, f"  {age / 3600:.1f} h of {limit / 3600:g} h", va="center",
                    fontsize=7, color="#424242")
        else:
            ax.barh([i], [0], height=0.6, gid=gid)
            tip = f"{name}: nothing seen yet"
            ax.text(0, i, "  nothing seen yet", va="center", fontsize=7, color="#757575")
        plot.tips[gid] = (f"bar level-{f.get('status')}", tip)
    ax.axvline(100, color=LEVEL_COLOURS["alert"], linestyle="--", linewidth=1,
               gid="freshness-limit", label="limit")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlim(0, top)
    ax.set_xlabel("age, % of the limit")
    ax.set_ylabel("newest")
    ax.invert_yaxis()
    return plot.svg()


# --- the run page's timeline -----------------------------------------------------------------
def timeline_plot(activities: list[dict], run_start: str | None) -> str:
    """A Gantt chart: one bar per activity from its start to its end (or to now, shown as
    the last known end), coloured by status, in seconds since the run started."""
    from datetime import datetime

    def at(value):
        try:
            return datetime.fromisoformat(str(value)) if value else None
        except ValueError:
            return None

    acts = [a for a in activities if at(a.get("start"))]
    desc = ", ".join(f"{a.get('name')} {a.get('status')} "
                     f"{a.get('durationSeconds') if a.get('durationSeconds') is not None else '?'} s"
                     for a in acts) or "no activity started"
    plot = Plot("timeline", "Activity timeline", desc,
                height=max(1.6, 0.9 + 0.45 * len(acts)))
    ax = plot.axes[0]
    if not acts:
        return _empty(plot, "activities")
    origin = at(run_start) or min(at(a["start"]) for a in acts)
    if origin.tzinfo is None and at(acts[0]["start"]).tzinfo is not None:
        origin = min(at(a["start"]) for a in acts)
    for i, a in enumerate(acts):
        start = (at(a["start"]) - origin).total_seconds()
        end = at(a.get("end"))
        length = ((end - origin).total_seconds() - start if end
                  else float(a.get("durationSeconds") or 0.5))
        gid = f"timeline-bar-{i}"
        ax.broken_barh([(start, max(length, 0.2))], (i - 0.3, 0.6),
                       color=STATUS_COLOURS.get(a.get("status"), "#90a4ae"), gid=gid, zorder=2)
        plot.tips[gid] = (f"bar status-{a.get('status')}",
                          f"{a.get('name')}: {a.get('status')}, {length:.1f} s from "
                          f"+{start:.1f} s")
    ax.set_yticks(range(len(acts)), [str(a.get("name")) for a in acts])
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the run started")
    ax.set_ylabel("activity")
    return plot.svg()
