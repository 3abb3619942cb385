"""`python -m training.preprocess`: validate a batch's raw CSV files and curate them.

Reads the batch manifest (`manifestPath` = "<container>/<blob>", written by landing-zone
detection), streams every listed file from the landing zone (never changing or deleting
it), keeps valid rows (imputing a few missing pixels), writes them as curated shards to
`<ml>/curated/<batchId>/`, writes every rejected row with its reason to
`<ml>/quarantine/<batchId>/rejected.csv`, and reports counts and per-feature statistics in
`outputs.json`. Re-running overwrites the same outputs (ADF may retry the activity).
"""
from __future__ import annotations

import csv
import io
import logging
import sys
from collections import Counter

import numpy as np

from training import schema
from training.activity import UsageError, main_wrapper
from training.blobs import BlockWriter, Store, iter_text_lines, service_client, split_path
from training.curated import CuratedWriter, prefix
from training.stats import FeatureStats

log = logging.getLogger("training.preprocess")
KINDS = ("labelled", "unlabelled")
QUARANTINE_HEADER = ["source_file", "line", "reason", "detail", "row"]


class _LazyMedians:
    """Reference medians, loaded (scikit-learn import) only if a pixel needs imputing."""

    def __init__(self):
        self._values = None

    def __getitem__(self, i):
        if self._values is None:
            from training.digits import pixel_medians

            self._values = pixel_medians()
        return self._values[i]


class _RecordingLines:
    """Feeds lines to csv.reader and remembers the raw text of the current record."""

    def __init__(self, lines):
        self._it = iter(lines)
        self._buf: list[str] = []
        self.consumed = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._it)
        self._buf.append(line)
        self.consumed += 1
        return line

    def take(self) -> str:
        text = "".join(self._buf).rstrip("\r\n")
        self._buf = []
        return text


class Quarantine:
    """rejected.csv: the original row text with its source, line, reason and detail."""

    def __init__(self, writer: BlockWriter):
        self.writer = writer
        self.rows = 0
        self._write(QUARANTINE_HEADER)

    def _write(self, fields) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(fields)
        self.writer.write(buf.getvalue().encode())

    def add(self, source: str, line: int, reason: str, detail: str, raw: str) -> None:
        self._write([source, line, reason, detail, raw])
        self.rows += 1


def validate_manifest(doc) -> dict:
    if not isinstance(doc, dict):
        raise UsageError("batch manifest must be a JSON object")
    kind = doc.get("kind")
    if kind not in KINDS:
        raise UsageError(f"batch manifest: kind must be one of {KINDS}, got {kind!r}")
    files = doc.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) and f.get("name") for f in files):
        raise UsageError("batch manifest: files must be a list of objects with a name")
    if not doc.get("container"):
        raise UsageError("batch manifest: container is missing")
    return doc


def curate_file(lines, source: str, kind: str, curated, quarantine: Quarantine,
                medians, counters: Counter, rules=schema) -> None:
    """Decide every row of one file; valid rows go to `curated`, the others to `quarantine`.
    `rules` is the workload's row schema: `layout_for(header, kind)` -> a layout or a
    `schema.Reject`, `check_row(fields, layout, medians)` -> a row (`id`, `values`, `label`,
    `imputed`) or a `schema.Reject` (the digits' `schema` by default)."""
    rec = _RecordingLines(lines)
    reader = csv.reader(rec)
    try:
        header = next(reader)
    except StopIteration:
        log.warning("%s is empty", source)
        return
    except csv.Error as exc:
        header = []
        log.warning("%s: unreadable header: %s", source, exc)
    rec.take()
    layout = rules.layout_for(header, kind)
    if isinstance(layout, schema.Reject):
        log.warning("%s: %s; every row rejected", source, layout.detail)
    elif layout.ignored:
        log.info("%s: ignoring extra columns %s", source, list(layout.ignored))
    seen: set[str] = set()
    while True:
        start = rec.consumed + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            counters["rowsIn"] += 1
            counters[f"reject:{schema.MALFORMED_CSV}"] += 1
            quarantine.add(source, start, schema.MALFORMED_CSV, str(exc), rec.take())
            continue
        raw = rec.take()
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line
        counters["rowsIn"] += 1
        if isinstance(layout, schema.Reject):
            result = layout
        else:
            result = rules.check_row(fields, layout, medians)
            if not isinstance(result, schema.Reject):
                if result.id in seen:
                    result = schema.Reject(schema.DUPLICATE_ID, f"id {result.id!r} seen earlier in the file")
                else:
                    seen.add(result.id)
        if isinstance(result, schema.Reject):
            counters[f"reject:{result.reason}"] += 1
            quarantine.add(source, start, result.reason, result.detail, raw)
            continue
        if result.imputed:
            counters["rowsImputed"] += 1
            counters["valuesImputed"] += result.imputed
        curated.add(result.id, result.values, result.label)


def read_batch_manifest(ctx, store: Store) -> dict:
    """The batch manifest `manifestPath` names, validated; UsageError naming what is wrong."""
    from azure.core.exceptions import ResourceNotFoundError

    manifest_path = ctx.get("manifestPath", required=True)
    m_container, m_blob = split_path(manifest_path)
    try:
        return validate_manifest(store.read_json(m_container, m_blob))
    except ResourceNotFoundError:
        raise UsageError(f"batch manifest {manifest_path} does not exist") from None
    except ValueError as exc:
        if isinstance(exc, UsageError):
            raise
        raise UsageError(f"batch manifest {manifest_path} is not valid JSON: {exc}") from None


def curate_batch(store: Store, manifest: dict, curated, quarantine: Quarantine, medians,
                 counters: Counter, rules=schema) -> tuple[int, list[str]]:
    """Stream every file of the batch through `curate_file`, never changing the landing
    zone; (bytes read, names of files changed since the manifest was written)."""
    from azure.core.exceptions import ResourceNotFoundError

    landing, kind = manifest["container"], manifest["kind"]
    bytes_in, changed = 0, []
    for entry in manifest["files"]:
        name = entry["name"]
        try:
            downloader = store.blob(landing, name).download_blob()
        except ResourceNotFoundError:
            raise RuntimeError(
                f"{landing}/{name} is listed in the manifest but no longer exists") from None
        etag = (downloader.properties.etag or "").strip('"')
        if entry.get("etag") and entry["etag"].strip('"') != etag:
            log.warning("%s/%s changed since the manifest was written (etag %s, now %s)",
                        landing, name, entry["etag"], etag)
            changed.append(name)
        bytes_in += downloader.size or 0
        curate_file(iter_text_lines(downloader), name, kind, curated, quarantine, medians,
                    counters, rules)
    return bytes_in, changed


def reject_reasons(counters: Counter) -> dict[str, int]:
    return {k.split(":", 1)[1]: v for k, v in sorted(counters.items()) if k.startswith("reject:")}


def run(ctx, args) -> dict:
    batch_id, ml = ctx.batch_id, ctx.ml_container
    store = Store(service_client(ctx.connection_string, ctx.account_url, ctx.client_id))
    manifest = read_batch_manifest(ctx, store)
    kind, landing = manifest["kind"], manifest["container"]
    log.info("batch %s: %d %s file(s) from %s (run %s)", batch_id, len(manifest["files"]),
             kind, landing, ctx.get("runId"))

    stats, labels = FeatureStats(), []

    def on_shard(shard):
        stats.update(shard.X)
        if shard.y is not None:
            labels.append(np.bincount(shard.y, minlength=10))

    curated = CuratedWriter(store, ml, batch_id, kind, on_shard=on_shard)
    q_name = f"quarantine/{batch_id}/rejected.csv"
    quarantine = Quarantine(BlockWriter(store.blob(ml, q_name, create=True)))
    counters: Counter = Counter()
    bytes_in, changed = curate_batch(store, manifest, curated, quarantine, _LazyMedians(),
                                     counters)
    cur = curated.close()
    quarantine.writer.close()

    reasons = reject_reasons(counters)
    outputs = {
        "batchId": batch_id,
        "kind": kind,
        "files": len(manifest["files"]),
        "bytesIn": bytes_in,
        "rowsIn": counters["rowsIn"],
        "rowsOut": cur["rows"],
        "rowsRejected": quarantine.rows,
        "rejectReasons": reasons,
        "rowsImputed": counters["rowsImputed"],
        "valuesImputed": counters["valuesImputed"],
        "changedFiles": changed,
        "curatedPath": f"{ml}/{prefix(batch_id)}",
        "quarantinePath": f"{ml}/{q_name}",
        "featureStats": stats.to_dict(),
    }
    if kind == "labelled":
        total = np.sum(labels, axis=0) if labels else np.zeros(10, dtype=np.int64)
        outputs["classCounts"] = {str(c): int(total[c]) for c in range(10)}
    log.info("batch %s: %d rows in, %d curated, %d rejected %s", batch_id, outputs["rowsIn"],
             outputs["rowsOut"], outputs["rowsRejected"], reasons)
    return outputs


def main(argv: list[str] | None = None) -> int:
    return main_wrapper(run, argv, "training.preprocess", __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
