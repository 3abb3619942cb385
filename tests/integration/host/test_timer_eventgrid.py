"""Timer and Event Grid triggers on the host stand-in: a timer that fires (and is past due
after the host was down over a tick), the Event Grid validation handshakes, and BlobCreated
events for blobs uploaded to Azurite."""
from __future__ import annotations

import json
import time
import uuid

import pytest
import requests
from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError
from azure.storage.blob import BlobBlock, BlobServiceClient

from devstack.host import HostProcess
from devstack.host.watcher import journal_size, read_writes
from tests.integration.host.conftest import WEB_APP, host_settings
from tests.polling import wait_until


def outputs(out_dir, prefix: str) -> list[dict]:
    files = sorted(out_dir.glob(f"{prefix}-*.json"), key=lambda p: p.stat().st_mtime_ns)
    return [json.loads(p.read_text()) for p in files]


@pytest.fixture
def container(azurite):
    name = "landing-" + uuid.uuid4().hex[:8]
    client = BlobServiceClient.from_connection_string(azurite.connection_string)
    client.create_container(name)
    return client.get_container_client(name)


def start_host(azurite, out_dir, state_dir, **extra) -> HostProcess:
    settings = host_settings(azurite, out_dir, TICK_SCHEDULE="*/2 * * * * *", **extra)
    return HostProcess(settings, app=WEB_APP, state_dir=state_dir).start()


def test_timer_fires_on_startup_and_on_schedule_then_past_due_after_downtime(
        azurite, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    settings = host_settings(azurite, out, TICK_SCHEDULE="*/2 * * * * *")
    host = HostProcess(settings, app=WEB_APP, state_dir=tmp_path / "state").start()
    try:
        ticks = wait_until(lambda: len(outputs(out, "tick")) >= 2 and outputs(out, "tick"))
        assert not any(t["past_due"] for t in ticks)  # run_on_startup + a scheduled tick
    finally:
        host.stop()
    time.sleep(3)  # a tick is missed while the host is down
    seen = len(outputs(out, "tick"))
    host = HostProcess(settings, port=host.port, app=WEB_APP, state_dir=tmp_path / "state")
    host.start()
    try:
        later = wait_until(lambda: len(outputs(out, "tick")) > seen and outputs(out, "tick"))
        assert any(t["past_due"] for t in later[seen:])
    finally:
        host.stop()


def test_eventgrid_webhook_needs_the_system_key_and_answers_handshakes(azurite, tmp_path):
    host = start_host(azurite, tmp_path, tmp_path / "state")
    try:
        url = f"{host.base_url}/runtime/webhooks/eventgrid"
        key = host.system_key("eventgrid_extension")
        validation = [{"id": "1", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                       "subject": "", "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "1",
                       "data": {"validationCode": "abc-123"}}]
        headers = {"aeg-event-type": "SubscriptionValidation"}
        params = {"functionName": "on_blob"}
        assert requests.post(url, params=params, json=validation,
                             headers=headers).status_code == 401
        r = requests.post(url, params={**params, "code": key}, json=validation, headers=headers)
        assert r.status_code == 200 and r.json() == {"validationResponse": "abc-123"}
        options = requests.options(url, params={**params, "code": key},
                                   headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
        assert options.status_code == 200
        assert options.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
        missing = requests.post(url, params={"functionName": "nope", "code": key}, json=[])
        assert missing.status_code == 404
        cloud = {"specversion": "1.0", "id": "c1", "source": "/test", "type": "Test.Event",
                 "subject": "/cloud/1", "data": {"x": 1}}
        r = requests.post(url, params={**params, "code": key}, json=cloud,
                          headers={"Content-Type": "application/cloudevents+json"})
        assert r.status_code == 202
        assert wait_until(lambda: [e for e in outputs(tmp_path, "event")
                                 if e["subject"] == "/cloud/1"])[0]["data"] == {"x": 1}
    finally:
        host.stop()


def test_uploaded_blob_becomes_a_blobcreated_event(azurite, tmp_path, container):
    host = start_host(azurite, tmp_path, tmp_path / "state",
                      DEVSTACK_EVENTGRID_WATCH=f"{container.container_name}=on_blob",
                      DEVSTACK_EVENTGRID_POLL_SECONDS="0.2")
    try:
        name = "labelled/2026/11/24/digits.csv"
        props = container.get_blob_client(name).upload_blob(b"id,p0\n1,0\n")
        subject = f"/blobServices/default/containers/{container.container_name}/blobs/{name}"
        events = wait_until(lambda: [e for e in outputs(tmp_path, "event")
                                   if e["subject"] == subject])
        e = events[0]
        assert e["type"] == "Microsoft.Storage.BlobCreated"
        assert e["topic"].endswith("/providers/Microsoft.Storage/storageAccounts/"
                                   "devstoreaccount1")
        assert e["data"]["url"] == (f"http://127.0.0.1:{azurite.blob_port}/devstoreaccount1/"
                                    f"{container.container_name}/{name}")
        assert e["data"]["contentLength"] == 10
        assert e["data"]["eTag"] == props["etag"].strip('"')  # unquoted, as Event Grid sends it
        assert e["data"]["api"] == "PutBlob" and len(e["data"]["sequencer"]) == 32
        # Later polls must not deliver it again. Each marker blob is delivered by a poll
        # after the previous one's delivery: three markers delivered mean at least three
        # polls happened after the first blob's.
        for i in range(3):
            marker = f"labelled/2026/11/24/marker-{i}.csv"
            container.get_blob_client(marker).upload_blob(b"id\n")
            wait_until(lambda m=marker: [x for x in outputs(tmp_path, "event")
                                       if x["subject"].endswith("/" + m)])
        assert len([x for x in outputs(tmp_path, "event") if x["subject"] == subject]) == 1
    finally:
        host.stop()


def test_duplicate_setting_delivers_every_event_twice(azurite, tmp_path, container):
    host = start_host(azurite, tmp_path, tmp_path / "state",
                      DEVSTACK_EVENTGRID_WATCH=f"{container.container_name}=on_blob",
                      DEVSTACK_EVENTGRID_POLL_SECONDS="0.2",
                      DEVSTACK_EVENTGRID_DUPLICATE="true")
    try:
        container.upload_blob("unlabelled/2026/11/24/a.csv", b"id\n1\n")
        twice = wait_until(lambda: len(found := [x for x in outputs(tmp_path, "event")
                                               if x["subject"].endswith("/a.csv")]) >= 2
                         and found)
        assert len({e["id"] for e in twice}) == 1  # the same event, delivered twice
    finally:
        host.stop()


def test_a_restarted_host_delivers_what_landed_while_it_was_down_and_nothing_twice(
        azurite, tmp_path, container):
    settings = host_settings(azurite, tmp_path, TICK_SCHEDULE="*/2 * * * * *",
                             DEVSTACK_EVENTGRID_WATCH=f"{container.container_name}=on_blob",
                             DEVSTACK_EVENTGRID_POLL_SECONDS="0.2")

    def delivered(name: str) -> list[dict]:
        return [e for e in outputs(tmp_path, "event") if e["subject"].endswith("/" + name)]

    host = HostProcess(settings, app=WEB_APP, state_dir=tmp_path / "state").start()
    try:
        container.upload_blob("in/before.csv", b"id\n")
        wait_until(lambda: delivered("before.csv"))
    finally:
        host.stop()  # the watcher saves where it got to before the host exits
    down = container.upload_blob("in/while-down.csv", b"id\n")
    down.set_blob_metadata({"k": "v"})  # moves the etag, writes no journal line: still announced
    host = HostProcess(settings, port=host.port, app=WEB_APP, state_dir=tmp_path / "state")
    host.start()
    try:
        wait_until(lambda: delivered("while-down.csv"))
        container.upload_blob("in/after.csv", b"id\n")  # a later poll read past both
        wait_until(lambda: delivered("after.csv"))
        assert [len(delivered(n)) for n in ("before.csv", "while-down.csv")] == [1, 1]
    finally:
        host.stop()


def test_azurite_journals_each_blob_created_or_replaced_and_nothing_else(azurite, container):
    start = journal_size(azurite.journal)
    source = container.get_blob_client("in/a b é.csv")
    first = source.upload_blob(b"id\n1\n")
    staged = container.get_blob_client("in/blocks.bin")
    staged.stage_block("b1", b"x" * 10)
    staged.commit_block_list([BlobBlock("b1")])
    container.get_blob_client("in/copy.csv").start_copy_from_url(source.url, requires_sync=True)
    container.upload_blob("in/a b é.csv", b"id\n2\n", overwrite=True)  # replaced: a line too
    # Writes that create or replace no blob: no line.
    source.set_blob_metadata({"k": "v"})
    source.create_snapshot()
    lease = staged.acquire_lease()
    lease.release()
    staged.stage_block("b2", b"y")
    with pytest.raises(ResourceModifiedError):  # a conditional write that failed
        container.upload_blob("in/copy.csv", b"z", overwrite=True,
                              etag=first["etag"], match_condition=MatchConditions.IfNotModified)
    container.get_blob_client("in/copy.csv").delete_blob()
    writes, _ = read_writes(azurite.journal, start)  # written before each answer went out
    mine = [(w.blob, w.api) for w in writes if w.container == container.container_name]
    assert mine == [("in/a b é.csv", "PutBlob"), ("in/blocks.bin", "PutBlockList"),
                    ("in/copy.csv", "CopyBlob"), ("in/a b é.csv", "PutBlob")]
    assert next(w.etag for w in writes if w.blob == "in/a b é.csv") == first["etag"].strip('"')


def test_a_blob_that_cannot_be_read_is_dead_lettered_and_the_writes_after_it_still_go_out(
        azurite, tmp_path, container):
    journal = tmp_path / "writes.jsonl"
    journal.touch()
    settings = host_settings(azurite, tmp_path, TICK_SCHEDULE="*/2 * * * * *",
                             DEVSTACK_EVENTGRID_WATCH=f"{container.container_name}=on_blob",
                             DEVSTACK_EVENTGRID_JOURNAL=str(journal),
                             DEVSTACK_EVENTGRID_POLL_SECONDS="0.2",
                             DEVSTACK_EVENTGRID_MAX_ATTEMPTS="2")
    host = HostProcess(settings, app=WEB_APP, state_dir=tmp_path / "state").start()
    try:
        ok = container.upload_blob("in/ok.csv", b"id\n")
        with journal.open("a") as f:  # Azurite answers 400 (not 404) to this name's HEAD
            for name, etag in (("../../x", "0x1"), ("in/ok.csv", ok.get_blob_properties().etag)):
                f.write(json.dumps({"container": container.container_name, "blob": name,
                                    "etag": etag, "api": "PutBlob"}) + "\n")
        (event,) = wait_until(lambda: outputs(tmp_path, "event"), "the write after it went out")
        assert event["subject"].endswith("/blobs/in/ok.csv")
        assert "gave up on" in host.log_path.read_text()
    finally:
        host.stop()
