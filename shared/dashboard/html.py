"""Safe HTML building for the dashboard: everything from data is escaped unless it is
already `Html` (built here from escaped parts). Run ids, file names, error messages and alert
summaries are treated as hostile. The page is self-contained: inline CSS and SVG, no script,
nothing fetched (the response's Content-Security-Policy forbids it as well).
"""
from __future__ import annotations

import html
from datetime import datetime
from urllib.parse import quote, urlencode

# Served with every page: nothing but inline styles and data: images may load, no script
# runs, no form posts, no framing; links do not leak the key in a Referer.
HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; "
                                "img-src data:; base-uri 'none'; form-action 'none'; "
                                "frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

CSS = """
:root{--ok:#2e7d32;--warn:#ef8f00;--alert:#c62828;--muted:#616161;--line:#e0e0e0}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#212121;
background:#f5f5f5}
header{background:#263238;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:baseline}
header h1{font-size:18px;margin:0}header a{color:#cfd8dc;text-decoration:none}
header a.here{color:#fff;font-weight:600}header .when{margin-left:auto;color:#b0bec5;font-size:12px}
main{padding:16px 20px;display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:16px}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 14px;min-width:0}
section.wide{grid-column:1/-1}
h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:3px 8px 3px 0;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
color:#fff;background:var(--muted)}
.badge.ok,.badge.succeeded,.badge.Resolved{background:var(--ok)}
.badge.warning,.badge.running,.badge.Sev3,.badge.Repeat{background:var(--warn)}
.badge.alert,.badge.failed,.badge.timed_out,.badge.fail,.badge.Fired,.badge.Sev0,.badge.Sev1,
.badge.Sev2,.badge.Escalated{background:var(--alert)}
.tiles{display:flex;gap:10px;flex-wrap:wrap}
.tile{border:1px solid var(--line);border-radius:6px;padding:6px 12px;min-width:78px}
.tile b{display:block;font-size:22px}
.muted{color:var(--muted)}.err{color:var(--alert);white-space:pre-wrap;word-break:break-word}
figure{margin:0}svg.plot{width:100%;height:auto;display:block}
details{margin-top:4px;font-size:12px}summary{cursor:pointer;color:var(--muted)}
code{font-size:12px;word-break:break-all}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}dt{color:var(--muted)}
dd{margin:0;word-break:break-word}
"""


class Html(str):
    """Markup that is already safe (built from escaped parts)."""


def e(value) -> Html:
    """Escape anything that is not already `Html`; None shows as an en dash."""
    if isinstance(value, Html):
        return value
    if value is None or value == "":
        return Html("&ndash;")
    return Html(html.escape(str(value), quote=True))


def join(parts, sep: str = "") -> Html:
    return Html(sep.join(e(p) for p in parts))


def badge(text, cls: str | None = None) -> Html:
    cls = "".join(ch for ch in str(cls or text) if ch.isalnum() or ch in "-_")
    return Html(f'<span class="badge {cls}">{e(text)}</span>')


class Links:
    """URLs of the dashboard's own pages, carrying the function key (`code`) when the page
    was opened with one, so navigation keeps working with function-level auth."""

    def __init__(self, base: str = "/api/dashboard", code: str | None = None):
        self.base, self.code = base.rstrip("/"), code

    def _q(self) -> str:
        return "?" + urlencode({"code": self.code}) if self.code else ""

    def overview(self) -> str:
        return f"{self.base}{self._q()}"

    def alerts(self) -> str:
        return f"{self.base}/alerts{self._q()}"

    def run(self, batch_id: str) -> str:
        return f"{self.base}/runs/{quote(str(batch_id), safe='')}{self._q()}"


def a(href: str, text, cls: str | None = None) -> Html:
    c = f' class="{e(cls)}"' if cls else ""
    return Html(f'<a href="{e(href)}"{c}>{e(text)}</a>')


def table(headers: list[str], rows: list[list], numeric: set[int] = frozenset(),
          empty: str = "none") -> Html:
    if not rows:
        return Html(f'<p class="muted">{e(empty)}</p>')
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{e(c)}</td>' if i in numeric else f"<td>{e(c)}</td>"
                         for i, c in enumerate(r)) + "</tr>"
        for r in rows)
    return Html(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def section(id_: str, title: str, body, wide: bool = False) -> Html:
    cls = ' class="wide"' if wide else ""
    return Html(f'<section id="{e(id_)}"{cls}><h2>{e(title)}</h2>{e(body)}</section>')


def figure(svg: str, caption_table: Html) -> Html:
    """A plot (trusted SVG from `plots`) and its data as a table (the text alternative)."""
    return Html(f"<figure>{svg}<details><summary>data</summary>{caption_table}</details>"
                "</figure>")


def page(title: str, here: str, links: Links, now: datetime, body: list[Html]) -> str:
    nav = [("overview", links.overview(), "Overview"), ("alerts", links.alerts(), "Alerts")]
    navs = "".join(str(a(href, label, "here" if key == here else None))
                   for key, href, label in nav)
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<meta name=\"referrer\" content=\"no-referrer\">"
            f"<title>{e(title)} - adf-ml-glue</title><style>{CSS}</style></head><body>"
            f"<header><h1>adf-ml-glue</h1>{navs}<span class=\"when\">{e(title)} at "
            f"{e(now.strftime('%Y-%m-%d %H:%M:%S %Z'))}</span></header>"
            f"<main>{''.join(body)}</main></body></html>")


def fmt_num(value, digits: int = 0) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def fmt_seconds(value) -> str | None:
    if value is None:
        return None
    try:
        s = float(value)
    except (TypeError, ValueError):
        return None
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def fmt_time(value) -> str | None:
    return str(value)[:19].replace("T", " ") if value else None
