"""Feeds: one model's data path each, declared in the file FEEDS_FILE names (JSON).

```json
{"feeds": [{
  "name": "diabetes",                       # lowercase, digits, '-'; in ids and alert subjects
  "landingPrefix": "diabetes/",             # its files: <prefix><kind>/YYYY/MM/DD/<file>
  "kinds": {"labelled": "train-and-score", "unlabelled": "score"},  # kind -> mode
  "pipelines": {"train-and-score": "diabetes_train_and_score", "score": "diabetes_score_only"},
  "task": "regression",                     # or "classification"
  "primaryMetric": {"name": "rmse", "direction": "lower", "tolerance": 2.0},
  "outputs": {"data": "Preprocess", "metrics": "Train", "predictions": "Score"},
  "checks": {"CHECK_DRIFT_FALSE_ALARM_RATE": 0.02},    # CHECK_*/FRESHNESS_* settings it changes
  "alerts": {"teams": "DIABETES_TEAMS_WEBHOOK_URL"}    # app settings holding its sinks' URLs
}]}
```

Defaults: kinds labelled -> train-and-score and unlabelled -> score; the pipelines of
ADF_TRAIN_PIPELINE / ADF_SCORE_PIPELINE; classification judged by `accuracy`, higher is
better, tolerance CHECK_ACCURACY_TOLERANCE (a regression feed must declare its metric);
outputs by the digits' activity names; no check overrides; the global alert sinks for each
of `webhooks` (ALERT_WEBHOOK_URLS), `teams` and `slack` it does not name. A sink is named by
the app setting that holds its URL, never by the URL: webhook URLs are secrets (Key Vault
references in Azure), and a feeds file is checked in.

No FEEDS_FILE: one feed, `digits`, which is exactly the app without feeds (prefix "", the
default kinds and pipelines, accuracy). `load_feeds` reads the file once and validates
everything; a `FeedsError` lists one line per problem, each naming the feed and the field
(unknown task, a mode without a pipeline, two feeds on one prefix, an unset sink setting, a
check override out of range...). `Feed.settings` is the feed's view of the settings (its
overrides and sinks applied), `Feed.profile` what the checks need (`shared.checks.profile`).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.checks.profile import ACTIVITY_ROLES, DEFAULT_ROLES, Profile
from shared.landing.layout import (
    KINDS,
    NameOutsideLayout,
    check_landing_name,
    check_prefix,
    kind_of,
)
from shared.settings import DEFAULT_FEED, SettingsError

MODES = ("train-and-score", "score")
NAME = r"^[a-z][a-z0-9-]{0,30}$"
PREFIX = r"^([a-z0-9][a-z0-9_.-]*/)*$"  # "" or segments, each ending in "/"
OVERRIDABLE = ("CHECK_", "FRESHNESS_")
SINKS = {"webhooks": "alert_webhook_urls", "teams": "alert_teams_webhook_url",
         "slack": "alert_slack_webhook_url"}
_SAFE_STORAGE = {"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}


class FeedsError(SettingsError):
    """The feeds file is unreadable or wrong; one line per problem, naming feed and field.
    A settings error: the app does not start with it, and /api/health reports it."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(
            f"  - {p}" for p in problems))


class Metric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field("accuracy", min_length=1, max_length=64)
    direction: Literal["higher", "lower"] = "higher"
    tolerance: float | None = Field(None, ge=0)  # None: CHECK_ACCURACY_TOLERANCE


class Outputs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    data: str = Field(DEFAULT_ROLES["data"], min_length=1)
    metrics: str = Field(DEFAULT_ROLES["metrics"], min_length=1)
    predictions: str = Field(DEFAULT_ROLES["predictions"], min_length=1)


class Alerts(BaseModel):
    """Each sink: the name of the app setting that holds its URL (ALERT_WEBHOOK_URLS-style
    comma list for `webhooks`)."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    webhooks: str | None = Field(None, pattern=r"^[A-Z][A-Z0-9_]*$")
    teams: str | None = Field(None, pattern=r"^[A-Z][A-Z0-9_]*$")
    slack: str | None = Field(None, pattern=r"^[A-Z][A-Z0-9_]*$")


class FeedDecl(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    name: str = Field(pattern=NAME)
    landing_prefix: str = Field("", alias="landingPrefix", pattern=PREFIX, max_length=200)
    kinds: dict[str, Literal["train-and-score", "score"]] = Field(
        default_factory=lambda: dict(zip(KINDS, MODES, strict=True)),
        min_length=1)
    pipelines: dict[Literal["train-and-score", "score"], str] | None = None
    task: Literal["classification", "regression"] = "classification"
    primary_metric: Metric | None = Field(None, alias="primaryMetric")
    outputs: Outputs = Outputs()
    checks: dict[str, float | int | str] = Field(default_factory=dict)
    alerts: Alerts = Alerts()

    @model_validator(mode="after")
    def _consistent(self) -> FeedDecl:
        bad = [k for k in self.kinds if not k or not k.replace("-", "").isalnum() or k != k.lower()]
        if bad:
            raise ValueError(f"kinds: {bad[0]!r} is not a kind name (lowercase letters, digits, '-')")
        if self.task == "regression" and self.primary_metric is None:
            raise ValueError("primaryMetric: a regression feed declares its metric "
                             "(e.g. {\"name\": \"rmse\", \"direction\": \"lower\"})")
        if self.pipelines is not None:
            missing = sorted(set(self.kinds.values()) - set(self.pipelines))
            if missing:
                raise ValueError(f"pipelines: no pipeline for mode {missing[0]!r}, which kind "
                                 f"{next(k for k, m in self.kinds.items() if m == missing[0])!r} uses")
            empty = [m for m, p in self.pipelines.items() if not p.strip()]
            if empty:
                raise ValueError(f"pipelines.{empty[0]}: empty pipeline name")
        return self


class FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    feeds: list[dict] = Field(min_length=1)


@dataclass(frozen=True)
class Feed:
    """One validated feed (see the module docstring)."""

    decl: FeedDecl
    pipelines: Mapping[str, str]
    settings: object  # the app's Settings with this feed's overrides and sinks

    @property
    def name(self) -> str:
        return self.decl.name

    @property
    def landing_prefix(self) -> str:
        return self.decl.landing_prefix

    @property
    def kinds(self) -> Mapping[str, str]:
        return self.decl.kinds

    def pipeline_for(self, mode: str) -> str:
        return self.pipelines[mode]

    @property
    def is_default(self) -> bool:
        return self.decl.name == DEFAULT_FEED

    @property
    def tag(self) -> str:
        """What ids and subjects carry: "" for the default feed (today's ids stay valid),
        else the feed's name."""
        return "" if self.is_default else self.decl.name

    @property
    def ml_prefix(self) -> str:
        """Where the feed's training code keeps its files in the ML container: the container's
        root for the default feed, `<name>/` for any other (as `training/diabetes` does)."""
        return "" if self.is_default else f"{self.decl.name}/"

    def subject(self, subject: str) -> str:
        """An alert subject as this feed's (`<feed>/<subject>`; the default feed's and a
        run's, `run:<batch id>` whose id carries the feed, are unchanged): alerts of two
        feeds never share a dedup key."""
        if self.is_default or subject.startswith("run:") or subject.startswith(f"{self.name}/"):
            return subject
        return f"{self.name}/{subject}"

    def own_findings(self, findings: list[dict]) -> list[dict]:
        return [{**f, "subject": self.subject(f["subject"])} for f in findings]

    def kind_of(self, blob_name: str) -> str | None:
        """The kind of a landing blob if it is this feed's (`<prefix><kind>/YYYY/MM/DD/...`)."""
        return kind_of(blob_name, self.landing_prefix, tuple(self.kinds))

    @property
    def profile(self) -> Profile:
        m = self.decl.primary_metric or Metric()
        roles = {r: getattr(self.decl.outputs, r) for r in ACTIVITY_ROLES}
        return Profile(self.decl.task, m.name, m.direction, m.tolerance, roles)


@dataclass(frozen=True)
class Feeds:
    feeds: tuple[Feed, ...]

    def __getitem__(self, name: str) -> Feed:
        for f in self.feeds:
            if f.name == name:
                return f
        raise KeyError(f"feed {name!r} is not declared (feeds: {', '.join(self.names)})")

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.feeds]

    def get(self, name: str | None) -> Feed:
        """The feed a record or payload names (none: the default feed); KeyError otherwise."""
        return self[name or DEFAULT_FEED]

    def sinks(self, feed: Feed | str | None = None) -> list:
        """Where a feed's alerts go: its own sinks (ids `<feed>:<sink>`, so their delivery
        records and health are apart from the global ones) and the global ones it does not
        replace (their ids unchanged)."""
        from shared.alerts.sinks import Sink, configured_sinks

        feed = feed if isinstance(feed, Feed) else self.get(feed)
        default = {s.id: s for s in configured_sinks(self.get(None).settings)}
        return [s if default.get(s.id) == s else Sink(f"{feed.name}:{s.id}", s.kind, s.url)
                for s in configured_sinks(feed.settings)]

    def all_sinks(self) -> list:
        """Every sink of every feed, once (what the delivery retries and health look at)."""
        return list({s.id: s for f in self.feeds for s in self.sinks(f)}.values())

    def of_subject(self, subject: str) -> Feed:
        """The feed an alert subject is about (`Feed.subject`): `<feed>/...`, a run of a
        feed's batch (`run:<feed>-<kind>-...`), else the default feed. The longest name
        first: `a-b`'s runs are not `a`'s."""
        for f in sorted(self.feeds, key=lambda f: len(f.name), reverse=True):
            if not f.is_default and (subject.startswith(f"{f.name}/")
                                     or subject.startswith(f"run:{f.name}-")):
                return f
        return self.get(None)

    def _by_prefix(self) -> list[Feed]:
        return sorted(self.feeds, key=lambda f: len(f.landing_prefix), reverse=True)

    def for_blob(self, blob_name: str) -> tuple[Feed, str] | None:
        """(feed, kind) of a landing blob; the longest matching prefix wins."""
        for f in self._by_prefix():
            kind = f.kind_of(blob_name)
            if kind:
                return f, kind
        return None

    def locate(self, blob_name: str) -> tuple[str, str] | None:
        """(feed name, kind) of a landing blob, or None outside every feed's layout."""
        found = self.for_blob(blob_name)
        return (found[0].name, found[1]) if found else None

    def check_name(self, blob_name: str) -> tuple[Feed, str]:
        """(feed, kind) of a landing blob name; NameOutsideLayout naming the rule it breaks
        (for the feed whose prefix it starts with, the longest)."""
        found = self.for_blob(blob_name)
        if found:
            return found
        for f in self._by_prefix():
            if isinstance(blob_name, str) and blob_name.startswith(f.landing_prefix):
                check_landing_name(blob_name, f.landing_prefix, tuple(f.kinds))
        raise NameOutsideLayout("name: expected " + " or ".join(
            f"{f.landing_prefix}{{{'|'.join(f.kinds)}}}/YYYY/MM/DD/<file>" for f in self.feeds))

    def check_prefix(self, prefix: str) -> tuple[Feed, str]:
        """(feed, prefix) of a listing prefix inside a feed's layout; NameOutsideLayout."""
        error = None
        for f in self._by_prefix():
            try:
                return f, check_prefix(prefix, f.landing_prefix, tuple(f.kinds))
            except NameOutsideLayout as exc:
                if error is None and prefix.startswith(f.landing_prefix):
                    error = exc
        raise error or NameOutsideLayout("prefix: outside every feed's layout")


def _where(index: int, raw) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"feed {name!r} (feeds[{index}])" if isinstance(name, str) else f"feeds[{index}]"


def _pydantic_problems(err: ValidationError, where: str) -> list[str]:
    out = []
    for e in err.errors():
        field = ".".join(str(x) for x in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        text = f"{where}: {field + ': ' if field else ''}{'is required' if e['type'] == 'missing' else msg}"
        got = e.get("input")
        if e["loc"] and e["type"] not in ("missing", "extra_forbidden") and not isinstance(
                got, (dict, list)):
            text += f" (got {got!r})"
        out.append(text)
    return out


def _feed_settings(decl: FeedDecl, settings, environ: Mapping[str, str], where: str):
    """(the feed's settings, problems)."""
    from shared.settings import load_settings, setting_name

    by_env = {setting_name(f): f for f in type(settings).model_fields}
    problems, update = [], {}
    for key, value in decl.checks.items():
        if key not in by_env or not key.startswith(OVERRIDABLE):
            problems.append(f"{where}: checks.{key}: not a CHECK_* or FRESHNESS_* setting")
            continue
        try:
            parsed = load_settings({**_SAFE_STORAGE, key: str(value)})
        except SettingsError as exc:
            problems.append(f"{where}: checks.{key}: {str(exc).split(': ', 2)[-1]}")
            continue
        update[by_env[key]] = getattr(parsed, by_env[key])
    for sink, field in SINKS.items():
        env_name = getattr(decl.alerts, sink)
        if env_name is None:
            continue  # the global sink
        value = environ.get(env_name, "").strip()
        if not value:
            problems.append(f"{where}: alerts.{sink}: app setting {env_name} is not set")
        update[field] = value
    return settings.model_copy(update=update), problems


def _pipelines(decl: FeedDecl, settings) -> dict[str, str]:
    if decl.pipelines is not None:
        return dict(decl.pipelines)
    return {"train-and-score": settings.adf_train_pipeline, "score": settings.adf_score_pipeline}


def default_feeds(settings) -> Feeds:
    """The app without a feeds file: the single feed `digits`."""
    decl = FeedDecl(name=DEFAULT_FEED)
    return Feeds((Feed(decl, _pipelines(decl, settings), settings),))


def _overlaps(feeds: list[Feed]) -> list[str]:
    problems = []
    for i, a in enumerate(feeds):
        for b in feeds[i + 1:]:
            pa, pb = a.landing_prefix, b.landing_prefix
            if pa == pb:
                problems.append(f"feed {b.name!r}: landingPrefix: {pb!r} is also feed "
                                f"{a.name!r}'s: two feeds on one prefix")
                continue
            short, long = (a, b) if len(pa) < len(pb) else (b, a)
            rest = long.landing_prefix[len(short.landing_prefix):]
            if long.landing_prefix.startswith(short.landing_prefix) and (
                    rest.split("/", 1)[0] in short.kinds):
                problems.append(f"feed {long.name!r}: landingPrefix: {long.landing_prefix!r} "
                                f"lies inside feed {short.name!r}'s files (kind "
                                f"{rest.split('/', 1)[0]!r})")
    return problems


def parse_feeds(text: str, settings, environ: Mapping[str, str], source: str = "FEEDS_FILE") -> Feeds:
    """Validate a feeds file's text; `FeedsError` with every problem found."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise FeedsError(source, [f"not valid JSON: {exc}"]) from None
    try:
        raw = FeedsFile.model_validate(doc).feeds
    except ValidationError as err:
        raise FeedsError(source, _pydantic_problems(err, "file")) from None
    problems, feeds, seen = [], [], {}
    for i, item in enumerate(raw):
        where = _where(i, item)
        try:
            decl = FeedDecl.model_validate(item)
        except ValidationError as err:
            problems += _pydantic_problems(err, where)
            continue
        if decl.name in seen:
            problems.append(f"{where}: name: {decl.name!r} is also feeds[{seen[decl.name]}]")
            continue
        seen[decl.name] = i
        feed_settings, found = _feed_settings(decl, settings, environ, where)
        problems += found
        feeds.append(Feed(decl, _pipelines(decl, settings), feed_settings))
    problems += _overlaps(feeds)
    if problems:
        raise FeedsError(source, problems)
    return Feeds(tuple(feeds))


def load_feeds(settings, environ: Mapping[str, str]) -> Feeds:
    """The feeds FEEDS_FILE declares (read once), or the default feed without one."""
    path = settings.feeds_file
    if not path:
        return default_feeds(settings)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FeedsError(f"FEEDS_FILE {path}", [f"cannot be read: {exc.strerror or exc}"]) from None
    return parse_feeds(text, settings, environ, f"FEEDS_FILE {path}")
