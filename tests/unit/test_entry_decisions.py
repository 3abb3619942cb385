"""Pure decisions at the ways in: event parsing, sealer windows, polling backoff, API payloads."""
from datetime import UTC, datetime

import pytest

from shared.adf.status import status_signature
from shared.api_models import parse_limit, parse_run_request
from shared.errors import BadRequest, PayloadTooLarge
from shared.landing.events import IgnoredEvent, parse_blob_created
from shared.orchestration.contract import sealer_instance_id, sealer_window_end
from shared.orchestration.polling import next_poll_interval, stages

SUBJ = "/blobServices/default/containers/landing/blobs/labelled/2026/11/24/a%20b.csv"
CREATED = "Microsoft.Storage.BlobCreated"


def test_blob_created_in_the_landing_layout_is_parsed():
    blob = parse_blob_created(CREATED, SUBJ, {"contentLength": 12}, "landing")
    assert (blob.container, blob.name, blob.kind, blob.size) == (
        "landing", "labelled/2026/11/24/a b.csv", "labelled", 12)


@pytest.mark.parametrize("etype,subject,data,why", [
    ("Microsoft.Storage.BlobDeleted", SUBJ, {}, "event type"),
    (CREATED, SUBJ.replace("/landing/", "/other/"), {}, "container 'other'"),
    (CREATED, "/blobServices/default/containers/landing/blobs/misc/x.csv", {}, "outside"),
    (CREATED, "garbage", {}, "does not name a blob"),
    (CREATED, SUBJ, {"contentLength": 0}, "empty"),
    (CREATED, SUBJ, {"contentLength": "12"}, "not an integer"),
])
def test_foreign_or_odd_events_are_ignored_with_a_reason(etype, subject, data, why):
    with pytest.raises(IgnoredEvent) as e:
        parse_blob_created(etype, subject, data, "landing")
    assert why in str(e.value)


def test_events_in_one_window_share_a_sealer_and_the_next_window_gets_another():
    t0 = datetime(2026, 11, 24, 12, 0, 5, tzinfo=UTC)
    t1 = datetime(2026, 11, 24, 12, 0, 55, tzinfo=UTC)
    t2 = datetime(2026, 11, 24, 12, 1, 0, tzinfo=UTC)
    a, b, c = (sealer_instance_id("labelled", t, 60) for t in (t0, t1, t2))
    assert a == b != c
    assert sealer_instance_id("unlabelled", t0, 60) != a
    assert sealer_window_end(a, 60) == t2


def test_poll_interval_backs_off_while_nothing_changes_and_resets_on_change():
    assert next_poll_interval(False, 30, 30, 300) == 60
    assert next_poll_interval(False, 200, 30, 300) == 300
    assert next_poll_interval(True, 300, 30, 300) == 30
    s1 = {"status": "running", "stage": "Train", "activities": [{"name": "Train", "status": "InProgress"}]}
    s2 = {**s1, "activities": [{"name": "Train", "status": "Succeeded"}]}
    assert status_signature(s1) == status_signature(dict(s1)) != status_signature(s2)


def test_stages_are_ordered_by_start():
    acts = [{"name": "Train", "status": "Succeeded", "start": "2026-11-24T10:05:00", "end": "x"},
            {"name": "Preprocess", "status": "Succeeded", "start": "2026-11-24T10:00:00"},
            {"name": "Score", "status": "Skipped", "start": None}]
    assert [s["name"] for s in stages(acts)] == ["Preprocess", "Train", "Score"]


def test_run_request_rejects_what_is_wrong_by_name():
    assert parse_run_request(b"") is None
    assert parse_run_request(b'{"files": ["labelled/2026/11/24/a.csv"], "mode": "score"}').mode == "score"
    assert parse_run_request(b'{"timeoutSeconds": 600, "maxReruns": 2}').timeoutSeconds == 600
    for body, name in [(b'{"mode": 1}', "mode"), (b'{"files": []}', "files"),
                       (b'{"prefix": "elsewhere/"}', "prefix"), (b'{"colour": "red"}', "colour"),
                       (b"not json", "JSON"), (b'"a string"', "JSON object"),
                       # a number of seconds or reruns is a JSON number, not true or "600"
                       (b'{"timeoutSeconds": true}', "timeoutSeconds"),
                       (b'{"timeoutSeconds": "600"}', "timeoutSeconds"),
                       (b'{"maxReruns": true}', "maxReruns"), (b'{"maxReruns": 2.0}', "maxReruns")]:
        with pytest.raises(BadRequest) as e:
            parse_run_request(body)
        assert name in str(e.value)
    with pytest.raises(PayloadTooLarge) as e:
        parse_run_request(b" " * (1024 * 1024 + 1))
    assert e.value.status == 413 and e.value.to_body()["error"] == "request body too large"


def test_limit_parameter():
    assert parse_limit(None) == 20 and parse_limit("5") == 5
    for bad in ("0", "-1", "x", "1000"):
        with pytest.raises(BadRequest):
            parse_limit(bad)
