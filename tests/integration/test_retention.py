"""Retention (issue 15) on Azurite: expired run state goes, what active runs, the checks
and the exactly-once claims need stays, and a pass that crashed half-way is finished by
the next one. The Durable purge is asked with the cutoff and finished statuses only."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from shared.landing.detection import claim_blob, manifest_blob
from shared.orchestration.starters import apply_retention
from shared.runs.records import FINISHED, INDEX, RunRecords
from shared.services import get_services

NOW = datetime.now(UTC)


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


class PurgingClient:
    def __init__(self):
        self.calls = []

    async def purge_instance_history_by(self, created_time_from, created_time_to,
                                        runtime_status):
        self.calls.append((created_time_from, created_time_to,
                           sorted(s.value for s in runtime_status)))
        return type("R", (), {"instances_deleted": 3})()


def test_retention_removes_expired_runs_and_keeps_what_is_still_needed(app_env, settings_env):
    settings_env.setenv("RETENTION_DAYS", "30")
    settings_env.setenv("CHECK_HISTORY_WINDOW", "1")
    services = get_services()
    state, records = services.state, RunRecords(services.state)
    landing = services.landing
    landing.upload_blob("labelled/2026/01/01/still-here.csv", b"a,b\n1,2\n")
    kept_etag = landing.get_blob_client("labelled/2026/01/01/still-here.csv") \
        .get_blob_properties().etag.strip('"')  # bare, as the detector's manifests hold it
    files = [{"name": "labelled/2026/01/01/gone.csv", "etag": "0x1"},
             {"name": "labelled/2026/01/01/still-here.csv", "etag": kept_etag}]
    runs = {  # batch id: (kind, status, created days ago, finished days ago)
        "old-a": ("labelled", "succeeded", 60, 59), "old-b": ("labelled", "failed", 50, 50),
        "new-c": ("labelled", "succeeded", 1, 1), "old-running": ("labelled", "running", 60, None),
        "old-e": ("unlabelled", "succeeded", 40, 40),
    }
    for bid, (kind, status, created, finished) in runs.items():
        records.update(bid, {"kind": kind, "status": status, "createdAt": ago(created),
                             **({"finishedAt": ago(finished)} if finished else {})})
        state.put(manifest_blob(bid), {"batchId": bid, "files": files if bid == "old-a" else []})
    for f in files:
        state.put(claim_blob(f["name"], f["etag"]), b"")
    # A pass that crashed after deleting old-b's record, before its index entry.
    state.delete("runs/old-b.json")
    state.put(f"{INDEX}notes.txt", b"put here by hand")  # not an entry: skipped

    client = PurgingClient()
    result = asyncio.run(apply_retention(client, services, NOW))
    assert result == {"expired": 2, "kept": 2, "claimsKept": 1, "instancesDeleted": 3}
    left = {r["batchId"] for r in records.recent(50)}
    # new-c: young; old-running: not finished; old-e: the newest finished unlabelled run.
    assert left == {"new-c", "old-running", "old-e"}
    # old-a's record is gone, but one of its files is still in the landing zone: its claim,
    # and the manifest and index entry the claim leads to, stay for the next passes.
    assert {b.name[len(INDEX):].partition("-")[2] or b.name for b in state.list(INDEX)} == {
        "old-a", "new-c", "old-running", "old-e", f"{INDEX}notes.txt"}
    assert state.read_json("runs/old-a.json") == (None, None)
    # The finished-runs index keeps the finished runs kept, nothing else (old-b's entry goes
    # too: its feed and kind come from its index entry once its record is gone).
    assert {b.name.rsplit("/", 1)[1].partition("-")[2] for b in state.list(FINISHED)} == {
        "new-c", "old-e"}
    assert state.read_json(manifest_blob("old-a"))[0]["batchId"] == "old-a"
    assert state.read_json(manifest_blob("old-b")) == (None, None)
    assert state.read_json(manifest_blob("old-running"))[0] is not None
    claims = {b.name for b in state.list("claims/")}
    assert claims == {claim_blob(files[1]["name"], files[1]["etag"])}  # its file is still there
    ((since, before, statuses),) = client.calls
    assert before == NOW - timedelta(days=30) and since < before
    assert statuses == ["Completed", "Failed", "Terminated"]
    # Idempotent: a second pass finds nothing more to do.
    again = asyncio.run(apply_retention(PurgingClient(), services, NOW))
    assert (again["expired"], again["kept"], again["claimsKept"]) == (0, 2, 1)
    # Once the file leaves the landing zone, the next pass lets the rest of old-a go.
    landing.delete_blob("labelled/2026/01/01/still-here.csv")
    last = asyncio.run(apply_retention(PurgingClient(), services, NOW))
    assert (last["expired"], last["claimsKept"]) == (1, 0)
    assert state.read_json(manifest_blob("old-a")) == (None, None)
    assert list(state.list("claims/")) == []
    assert len(list(state.list(INDEX))) == 4


def test_retention_days_zero_keeps_everything(app_env, settings_env):
    settings_env.setenv("RETENTION_DAYS", "0")
    services = get_services()
    RunRecords(services.state).update("ancient", {"kind": "labelled", "status": "succeeded",
                                                  "createdAt": ago(900), "finishedAt": ago(900)})
    client = PurgingClient()
    assert asyncio.run(apply_retention(client, services, NOW))["expired"] == 0
    assert client.calls == [] and RunRecords(services.state).get("ancient")


def test_a_run_whose_rerun_begins_while_the_pass_looks_at_it_is_kept(app_env, settings_env):
    settings_env.setenv("RETENTION_DAYS", "30")
    settings_env.setenv("CHECK_HISTORY_WINDOW", "1")
    services = get_services()
    state, records = services.state, RunRecords(services.state)
    records.update("old-f", {"kind": "labelled", "status": "failed", "createdAt": ago(60),
                             "finishedAt": ago(60), "adfRunIds": ["adf-1"]})
    records.update("young", {"kind": "labelled", "status": "succeeded", "createdAt": ago(1),
                             "finishedAt": ago(1)})  # the newest finished: old-f may expire
    read, begun = state.read_json, []

    def a_rerun_begins_just_after_the_read(name):
        found = read(name)
        if name == "runs/old-f.json" and not begun:  # POST /runs/old-f/rerun: it begins
            begun.append(True)
            records.update("old-f", {"status": "running", "rerunOf": "adf-1"})
        return found

    settings_env.setattr(state, "read_json", a_rerun_begins_just_after_the_read)
    result = asyncio.run(apply_retention(PurgingClient(), services, NOW))
    settings_env.setattr(state, "read_json", read)
    assert (result["expired"], result["kept"]) == (0, 1)
    assert records.get("old-f")["status"] == "running"
    assert "old-f" in {r["batchId"] for r in records.recent(10)}  # still listed, as active
