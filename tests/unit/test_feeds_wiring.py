"""Feeds wired through the app: the pure mappings from a landing name, a batch, a run
record or an alert subject to its feed, and what each feed gets (ids, markers, pipelines,
sinks, API validation). The default feed keeps today's ids and subjects."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.api_models import parse_feed, parse_run_request
from shared.errors import BadRequest
from shared.feeds import FeedsError, parse_feeds
from shared.landing.batch import Batch, check_batch_id
from shared.landing.events import IgnoredEvent, parse_blob_created
from shared.landing.layout import NameOutsideLayout, batch_id
from shared.markers import newest_data, newest_predictions
from shared.monitoring.freshness import notes_by_feed
from shared.orchestration.contract import sealer_instance_id, sealer_window_end
from shared.runs.activities import default_train_options, pipeline_for
from shared.runs.ml_layout import champion_pointer, model_reference
from shared.runs.records import _wanted, feed_of, matches
from shared.services import Services, services_for
from shared.settings import load_settings

S = load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
                   "ALERT_TEAMS_WEBHOOK_URL": "https://global.example/teams",
                   "ALERT_WEBHOOK_URLS": "https://global.example/hook",
                   "TRAIN_OPTIONS": '{"epochs": 2}'})
ENV = {"DIABETES_TEAMS": "https://diabetes.example/teams"}
FILE = json.loads(open("feeds.example.json").read())
FILE["feeds"][1]["alerts"] = {"teams": "DIABETES_TEAMS"}
FEEDS = parse_feeds(json.dumps(FILE), S, ENV)
DIGITS, DIABETES = FEEDS["digits"], FEEDS["diabetes"]
T = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("name, feed, kind", [
    ("labelled/2026/11/26/a.csv", "digits", "labelled"),
    ("unlabelled/2026/11/26/sub/a.csv", "digits", "unlabelled"),
    ("diabetes/labelled/2026/11/26/a.csv", "diabetes", "labelled"),  # longest prefix wins
    ("diabetes/unlabelled/2026/11/26/a.csv", "diabetes", "unlabelled"),
    ("diabetes/other/2026/11/26/a.csv", None, None),
    ("diabetes/labelled/2026/13/26/a.csv", None, None),  # no 13th month
    ("elsewhere/2026/11/26/a.csv", None, None),
])
def test_a_landing_name_maps_to_its_feed_and_kind(name, feed, kind):
    assert FEEDS.locate(name) == ((feed, kind) if feed else None)


def test_a_name_outside_every_feed_is_refused_naming_the_rule_of_its_feed():
    with pytest.raises(NameOutsideLayout, match="is not a date"):
        FEEDS.check_name("diabetes/labelled/2026/02/30/a.csv")
    with pytest.raises(NameOutsideLayout, match=r"diabetes/\{labelled\|unlabelled\}"):
        FEEDS.check_name("diabetes/misc/2026/02/01/a.csv")
    assert FEEDS.check_prefix("diabetes/unlabelled/2026/")[0] is DIABETES
    assert FEEDS.check_prefix("labelled/2026/11/")[0] is DIGITS
    with pytest.raises(NameOutsideLayout, match="prefix: expected diabetes/"):
        FEEDS.check_prefix("diabetes/2026/")


def test_ids_carry_the_feed_name_except_the_default_feeds():
    files = [{"name": "labelled/2026/11/26/a.csv", "etag": "e"}]
    digits = batch_id("labelled", files, DIGITS.tag)
    assert digits == batch_id("labelled", files)  # today's id, unchanged
    assert digits.startswith("labelled-") and len(digits) == len("labelled-") + 20
    other = batch_id("labelled", files, DIABETES.tag)
    assert other == "diabetes-" + digits and check_batch_id(other) == other
    assert sealer_instance_id("labelled", T, 60, DIGITS.tag) == sealer_instance_id(
        "labelled", T, 60) == f"seal-labelled-{int(T.timestamp()) - 30}"
    sealer = sealer_instance_id("labelled", T, 60, DIABETES.tag)
    assert sealer == f"seal-diabetes-labelled-{int(T.timestamp()) - 30}"
    assert sealer_window_end(sealer, 60) == sealer_window_end(
        sealer_instance_id("labelled", T, 60), 60)
    assert (newest_data("labelled", DIGITS.tag), newest_data("labelled", DIABETES.tag)) == (
        "newest-data-labelled", "newest-data-diabetes-labelled")
    assert (newest_predictions(DIGITS.tag), newest_predictions(DIABETES.tag)) == (
        "newest-predictions", "newest-predictions-diabetes")


def test_champion_and_reference_paths_are_the_feeds_own():
    assert champion_pointer(DIGITS.ml_prefix) == "models/champion.json"
    assert champion_pointer(DIABETES.ml_prefix) == "diabetes/models/champion.json"
    assert model_reference("v1", DIABETES.ml_prefix) == "diabetes/models/v1/reference.json"
    assert model_reference("v1") == "models/v1/reference.json"


def test_the_batch_payload_carries_its_feed_and_the_default_feed_keeps_its_kinds():
    b = Batch(batchId="diabetes-labelled-" + "0" * 20, feed="diabetes", kind="labelled",
              mode="train-and-score", manifestPath="state/manifests/x.json")
    assert Batch.model_validate(b.to_json()) == b and b.run_fields()["feed"] == "diabetes"
    legacy = {k: v for k, v in b.to_json().items() if k != "feed"}
    assert Batch.model_validate(legacy).feed == "digits"  # inputs written before feeds
    assert b.for_action("retrain", "a" * 20).feed == "diabetes"
    with pytest.raises(ValueError, match="kind"):
        Batch.model_validate({**legacy, "kind": "misc"})


def test_pipelines_and_train_options_per_feed_and_mode():
    assert pipeline_for("train-and-score", S, feed=DIABETES) == "diabetes_train_and_score"
    assert pipeline_for("score", S, feed=DIABETES) == "diabetes_score_only"
    assert pipeline_for("score", S, feed=DIGITS) == pipeline_for("score", S) == "score_only"
    assert pipeline_for("score", S, "aml-endpoint", DIABETES) == S.adf_endpoint_score_pipeline
    assert default_train_options(DIGITS, S) == {"epochs": 2}
    assert default_train_options(DIABETES, S) == {}  # TRAIN_OPTIONS is the digits' program's


def test_records_and_index_entries_filter_by_feed():
    assert feed_of({}) == "digits" and feed_of({"feed": "diabetes"}) == "diabetes"
    assert matches({"kind": "labelled"}, "labelled", feed="digits")
    assert not matches({"kind": "labelled", "feed": "diabetes"}, "labelled", feed="digits")
    assert _wanted({"kind": "labelled", "status": "succeeded", "feed": "diabetes"},
                   "labelled", True, "diabetes")
    assert not _wanted({"kind": "labelled", "status": "succeeded", "feed": "diabetes"},
                       "labelled", True, "digits")
    assert _wanted({"kind": "labelled", "status": "succeeded"}, "labelled", True, "digits")


def test_alert_subjects_are_the_feeds_own_and_map_back_to_it():
    assert DIGITS.subject("model") == "model"
    assert DIABETES.subject("model") == "diabetes/model"
    assert DIABETES.subject("contract:predictions") == "diabetes/contract:predictions"
    run = "run:diabetes-labelled-" + "0" * 20
    assert DIABETES.subject(run) == run  # the batch id carries the feed already
    assert DIABETES.subject(DIABETES.subject("model")) == "diabetes/model"
    for subject, feed in [("diabetes/model", "diabetes"), (run, "diabetes"), ("model", "digits"),
                          ("run:labelled-" + "0" * 20, "digits"), ("dataset:labelled", "digits")]:
        assert FEEDS.of_subject(subject).name == feed
    notes = [{"alert": {"subject": s}} for s in ("model", "diabetes/predictions", run)]
    assert {k: len(v) for k, v in notes_by_feed(FEEDS, notes).items()} == {
        "digits": 1, "diabetes": 2}


def test_a_subject_maps_to_the_feed_with_the_longest_matching_name():
    two = parse_feeds(json.dumps({"feeds": [
        {"name": "digits"}, {"name": "a", "landingPrefix": "a/"},
        {"name": "a-b", "landingPrefix": "ab/"}]}), S, ENV)
    assert two.of_subject("run:a-b-labelled-" + "0" * 20).name == "a-b"
    assert two.of_subject("run:a-labelled-" + "0" * 20).name == "a"
    assert two.of_subject("a-b/model").name == "a-b"


def test_a_feeds_own_sinks_have_their_own_ids_and_the_rest_fall_back_to_the_global_ones():
    assert {(s.id, s.url) for s in FEEDS.sinks("digits")} == {
        ("webhook-1", "https://global.example/hook"), ("teams", "https://global.example/teams")}
    assert {(s.id, s.url) for s in FEEDS.sinks(DIABETES)} == {
        ("webhook-1", "https://global.example/hook"),
        ("diabetes:teams", "https://diabetes.example/teams")}
    assert sorted(s.id for s in FEEDS.all_sinks()) == ["diabetes:teams", "teams", "webhook-1"]


def test_an_event_names_the_feed_of_its_blob():
    subject = "/blobServices/default/containers/landing/blobs/diabetes/labelled/2026/11/26/a.csv"
    blob = parse_blob_created("Microsoft.Storage.BlobCreated", subject, {}, "landing",
                              FEEDS.locate)
    assert (blob.feed, blob.kind) == ("diabetes", "labelled")
    digits = parse_blob_created("Microsoft.Storage.BlobCreated",
                                subject.replace("diabetes/", ""), {}, "landing")
    assert (digits.feed, digits.kind) == (None, "labelled")
    with pytest.raises(IgnoredEvent, match="outside the landing layout"):
        parse_blob_created("Microsoft.Storage.BlobCreated", subject, {}, "landing")


def test_a_run_request_is_checked_against_the_feeds():
    req = parse_run_request(b'{"files": ["diabetes/labelled/2026/11/26/a.csv"]}', FEEDS)
    assert req.files and req.feed is None
    assert parse_run_request(b'{"feed": "diabetes"}', FEEDS).feed == "diabetes"
    assert parse_run_request(b'{"feed": "diabetes", "prefix": "diabetes/labelled/"}', FEEDS)
    for body, detail in [
        (b'{"feed": "fraud"}', "feed: unknown feed 'fraud'; the feeds are digits, diabetes"),
        (b'{"feed": "digits", "files": ["diabetes/labelled/2026/11/26/a.csv"]}',
         "files[0]: 'diabetes/labelled/2026/11/26/a.csv' is not in feed 'digits'"),
        (b'{"feed": "diabetes", "prefix": "labelled/2026/"}', "prefix: 'labelled/2026/' is not"),
        (b'{"files": ["diabetes/misc/2026/11/26/a.csv"]}', "files[0]: name: expected"),
        (b'{"feed": 3}', "feed"),
    ]:
        with pytest.raises(BadRequest) as info:
            parse_run_request(body, FEEDS)
        assert detail in info.value.detail
    with pytest.raises(BadRequest):  # without the feeds: the default feed's layout only
        parse_run_request(b'{"files": ["diabetes/labelled/2026/11/26/a.csv"]}')
    assert parse_feed(None, FEEDS) is None and parse_feed("digits", FEEDS) == "digits"
    with pytest.raises(BadRequest, match="unknown feed"):
        parse_feed("x" * 500, FEEDS)


def test_services_load_the_feeds_once_and_a_bad_file_fails_at_start(tmp_path):
    assert Services(S).feeds.names == ["digits"]
    good = tmp_path / "good.json"
    good.write_text(json.dumps(json.loads(open("feeds.example.json").read())))
    svc = services_for(S.model_copy(update={"feeds_file": str(good)}))
    assert svc.feeds.names == ["digits", "diabetes"] and svc.feeds is svc.feeds
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"feeds": [
        {"name": "digits"}, {"name": "a", "task": "ranking"},
        {"name": "b", "landingPrefix": "x/", "pipelines": {"score": "p"}},
        {"name": "c", "landingPrefix": "x/"}, {"name": "d", "landingPrefix": "x/"}]}))
    with pytest.raises(FeedsError) as info:
        services_for(S.model_copy(update={"feeds_file": str(bad)}))
    lines = str(info.value).splitlines()
    assert len(lines) == 1 + len(info.value.problems) == 4
    assert any("'a'" in p and "task" in p for p in info.value.problems)
    assert any("'b'" in p and "pipelines" in p for p in info.value.problems)
    assert any("two feeds on one prefix" in p for p in info.value.problems)


def test_a_bad_feeds_file_is_a_settings_failure_in_health(tmp_path):
    from shared.monitoring.health import settings_failure
    from shared.settings import SettingsError

    bad = tmp_path / "bad.json"
    bad.write_text('{"feeds": [{"name": "x", "task": "ranking"}]}')
    with pytest.raises(SettingsError) as info:  # what the health endpoint reports
        services_for(S.model_copy(update={"feeds_file": str(bad)}))
    report = settings_failure(info.value)
    assert not report["ok"] and "feed 'x' (feeds[0]): task" in report["checks"]["settings"]["detail"]
    with pytest.raises(KeyError, match="feed 'fraud' is not declared"):
        FEEDS.get("fraud")
