"""The contract between a pipeline's activities and the glue: what each output must hold for
a run to be judged, checked before any check reads it.

The schemas are JSON Schema files in `contract/` (published in the repository; the README's
"Contract" section explains them): `data`, `metrics`, `predictions` for the activity outputs
of those roles (`profile`), `reference` for the champion's reference.json, `common` for the
shapes they share. On top of the schemas, rules that depend on the feed's declaration or
relate two fields (`_feed_rules`): the primary metric is a finite number, a classification
summary has class counts, a regression summary a `predictionHistogram`, and a histogram has
one count fewer than it has edges and increasing edges. A reference may lack a distribution
(the checks then compare with recent runs), but what it has must be well-formed.

`conforming(run, reference, profile)` returns the run and reference with every output that
breaks the contract left out (a check then sees it as not reported), and one `contract`
finding per role present (subject `contract:<role>`): "alert" naming the file and each
field that is wrong, "ok" when it conforms. It never raises on what a pipeline wrote.
`conforming_history` leaves out malformed outputs of earlier runs, silently: they were
reported when those runs were judged.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

from shared.checks.findings import ALERT, OK, finding
from shared.checks.profile import (
    ACTIVITY_ROLES,
    CLASSIFICATION,
    DEFAULT,
    METRICS,
    PREDICTIONS,
    REFERENCE,
    REGRESSION,
    ROLES,
    Profile,
)
from shared.checks.records import metric_value

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "contract"
SCHEMA_FILES = {role: f"{role}.schema.json" for role in ROLES}
MAX_LISTED = 10  # problems a finding's context lists


@lru_cache(maxsize=1)
def _validators() -> dict:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    docs = {p.name: json.loads(p.read_text()) for p in sorted(SCHEMA_DIR.glob("*.schema.json"))}
    registry = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in docs.values())
    return {role: Draft202012Validator(docs[name], registry=registry)
            for role, name in SCHEMA_FILES.items()}


def field_path(path) -> str:
    """("a", "b", 3) -> "a.b[3]"; the empty path is the whole file."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(the whole file)"


def _schema_problems(doc, role: str) -> list[tuple[str, str]]:
    out = []
    for err in _validators()[role].iter_errors(doc):
        path = list(err.absolute_path)
        if err.validator == "required" and isinstance(err.instance, dict):
            for name in err.validator_value:
                if name not in err.instance:
                    out.append((field_path([*path, name]), "is missing"))
            continue
        out.append((field_path(path), err.message[:200]))
    return sorted(set(out))


def _histogram_problems(hist, where: str) -> list[tuple[str, str]]:
    if not isinstance(hist, dict):
        return []
    edges, counts = hist.get("edges"), hist.get("counts")
    if not (isinstance(edges, list) and isinstance(counts, list)):
        return []
    out = []
    if len(counts) != len(edges) - 1:
        out.append((f"{where}.counts", f"has {len(counts)} bins, {len(edges)} edges make "
                                       f"{len(edges) - 1}"))
    if any(not isinstance(e, (int, float)) for e in edges):
        return out
    if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        out.append((f"{where}.edges", "must increase strictly"))
    return out


def _feed_rules(doc: dict, role: str, profile: Profile) -> list[tuple[str, str]]:
    out = []
    if role == METRICS:
        value = metric_value(doc, profile.metric)
        if value is None or not math.isfinite(value):
            out.append((f"metrics.{profile.metric}",
                        "is missing or not a finite number: it is the feed's primary metric"))
    if role == PREDICTIONS:
        if profile.task == REGRESSION and "predictionHistogram" not in doc:
            out.append(("predictionHistogram", "is missing (a regression feed)"))
        if profile.task == CLASSIFICATION and not (doc.get("classCounts")
                                                   or doc.get("classDistribution")):
            out.append(("classCounts", "is missing, and so is classDistribution "
                                       "(a classification feed)"))
    if role in (PREDICTIONS, REFERENCE):
        out += _histogram_problems(doc.get("predictionHistogram"), "predictionHistogram")
    feats = (doc.get("featureStats") or {}).get("features") if isinstance(
        doc.get("featureStats"), dict) else None
    if isinstance(feats, dict):
        for name, f in feats.items():
            if isinstance(f, dict) and "edges" in f:
                out += _histogram_problems(f, f"featureStats.features.{name}")
    return out


def problems(doc, role: str, profile: Profile = DEFAULT) -> list[tuple[str, str]]:
    """(field, what is wrong) for every way `doc` breaks the contract of `role`; [] if none."""
    found = _schema_problems(doc, role)
    if isinstance(doc, dict):
        found += [p for p in _feed_rules(doc, role, profile) if p not in found]
    return found


def _finding(role: str, file: str, found: list[tuple[str, str]], batch_id) -> dict:
    ctx = {"batchId": batch_id, "role": role, "file": file, "schema": SCHEMA_FILES[role],
           "problems": [{"field": f, "problem": p} for f, p in found[:MAX_LISTED]],
           "problemCount": len(found)}
    if not found:
        return finding("contract", f"contract:{role}", OK,
                       f"{file} meets the contract ({SCHEMA_FILES[role]})", ctx)
    first = f"{found[0][0]} {found[0][1]}"
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return finding("contract", f"contract:{role}", ALERT,
                   f"{file} breaks the contract ({SCHEMA_FILES[role]}): {first}{more}"[:500], ctx)


def _present(run: dict, profile: Profile) -> dict[str, tuple[str, object]]:
    outputs = run.get("outputs") if isinstance(run.get("outputs"), dict) else {}
    return {role: (profile.activity(role), outputs[profile.activity(role)])
            for role in ACTIVITY_ROLES if outputs.get(profile.activity(role)) is not None}


def conforming(run: dict, reference, profile: Profile = DEFAULT,
               reference_file: str = "reference.json") -> tuple[dict, dict | None, list[dict]]:
    """(run with conforming outputs only, the reference or None, contract findings)."""
    findings, outputs = [], dict(run.get("outputs") or {}) if isinstance(
        run.get("outputs"), dict) else {}
    for role, (activity, doc) in _present(run, profile).items():
        found = problems(doc, role, profile)
        findings.append(_finding(role, f"{activity}/outputs.json", found, run.get("batchId")))
        if found:
            outputs.pop(activity, None)
    if reference is not None:
        found = problems(reference, REFERENCE, profile)
        findings.append(_finding(REFERENCE, reference_file, found, run.get("batchId")))
        if found:
            reference = None
    return {**run, "outputs": outputs}, reference, findings


def conforming_history(run: dict, profile: Profile = DEFAULT) -> dict:
    """An earlier run with its malformed outputs left out (no finding)."""
    if not isinstance(run.get("outputs"), dict):
        return {**run, "outputs": {}}
    bad = {activity for role, (activity, doc) in _present(run, profile).items()
           if problems(doc, role, profile)}
    return {**run, "outputs": {k: v for k, v in run["outputs"].items() if k not in bad}}
