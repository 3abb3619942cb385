"""A burst of BlobCreated deliveries: 1,000 distinct files, every event delivered twice
(2,000 deliveries) to the host's Event Grid endpoint by 8 concurrent senders.

Prints events handled per second (ratio: against the same number of bare requests to the
host's ping endpoint, the host's own ceiling), checks that ADF runs started equal the
number of batches (and every file is in exactly one batch), and the host's peak memory."""
from __future__ import annotations

import os
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.common import CORRECTNESS, Row
from bench.glue_stack import peak_rss_mb, services, start, upload


def _event(landing: str, name: str) -> list[dict]:
    return [{
        "id": str(uuid.uuid4()), "eventType": "Microsoft.Storage.BlobCreated",
        "subject": f"/blobServices/default/containers/{landing}/blobs/{name}",
        "topic": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/dev",
        "eventTime": datetime.now(UTC).isoformat(), "dataVersion": "", "metadataVersion": "1",
        "data": {"api": "PutBlob", "contentLength": 10, "blobType": "BlockBlob",
                 "url": f"http://127.0.0.1/devstoreaccount1/{landing}/{name}"},
    }]


def _send_all(url: str, bodies: list, headers: dict) -> float:
    session = requests.Session()

    def send(body):
        r = session.post(url, json=body, headers=headers, timeout=60) if body is not None \
            else session.get(url, headers=headers, timeout=60)
        r.raise_for_status()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, bodies))
    return time.perf_counter() - t0


def run(short: bool = False) -> list[Row]:
    files = 100 if short else 1000
    with tempfile.TemporaryDirectory() as tmp:
        stack = start(Path(tmp), {"EVENT_BATCH_WINDOW_SECONDS": "2", "MAX_BATCH_FILES": "500",
                                  "DEVSTACK_EVENTGRID_WATCH": ""})  # we deliver the events
        try:
            from shared.runs.records import RunRecords

            svc = services(stack)
            landing = svc.settings.landing_container
            day = f"{datetime.now(UTC):%Y/%m/%d}"
            names = [f"unlabelled/{day}/burst-{i:04}.csv" for i in range(files)]
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda n: upload(stack, n), names))
            host = stack.host
            events = [_event(landing, n) for n in names for _ in range(2)]
            url = f"{host.base_url}/runtime/webhooks/eventgrid?functionName=on_blob_created"
            headers = {"aeg-event-type": "Notification",
                       "x-functions-key": host.system_key("eventgrid_extension")}
            baseline = _send_all(f"{host.base_url}/admin/host/ping", [None] * len(events), {})
            elapsed = _send_all(url, events, headers)
            deadline = time.monotonic() + (120 if short else 600)
            while time.monotonic() < deadline:
                runs = [r for r in RunRecords(svc.state).recent(200) if r.get("adfRunIds")]
                if sum(len(r["files"]) for r in runs) >= files:
                    break
                time.sleep(0.5)
            adf_runs = svc.adf.query_runs(2, pipeline="bench_noop")
            claimed = sorted(f["name"] for r in runs for f in r["files"])
            peak = peak_rss_mb(host.proc.pid)
        finally:
            stack.stop()
    rate, ceiling = len(events) / elapsed, len(events) / baseline
    exact = claimed == sorted(names) and len(adf_runs) == len(runs)
    return [
        Row("event burst", f"{len(events):,} deliveries for {files:,} files (each twice)",
            f"{rate:.0f} events/s vs {ceiling:.0f} pings/s", rate / ceiling,
            "informative (share of the host's bare request rate)"),
        Row("event burst", "ADF runs started vs batches",
            f"{len(adf_runs)} runs, {len(runs)} batches, {len(claimed)} files claimed",
            None, "runs == batches, every file once", exact, kind=CORRECTNESS),
        Row("event burst", "host stand-in peak memory", f"{peak:.0f} MB (VmHWM)", None,
            "informative"),
    ]


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(short=bool(os.environ.get("BENCH_SHORT"))))
