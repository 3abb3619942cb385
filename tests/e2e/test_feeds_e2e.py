"""Issue 18 end to end on the local stack: two feeds at once (the digits and the example
regression feed, `diabetes`), each with a training batch and scoring batches. Each feed's
runs, champion and alerts are its own (ids, records, champion pointers, alert subjects and
sinks); the regression feed's metric regression fires on a weak model and its prediction
drift on a drifted batch. A third feed whose Score activity writes a malformed summary gets
a `contract` finding naming the field, and its run record still completes."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from devstack.stack import LocalStack
from tests.e2e.conftest import FAST, Stack

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BROKEN_SCORE = ("python -c \"import json; json.dump({'rows': 5, 'classCounts': {'3': -2}}, "
                "open('outputs.json', 'w'))\"")


def _feeds_file(path: Path) -> Path:
    doc = json.loads((ROOT / "feeds.example.json").read_text())
    doc["feeds"][1]["alerts"] = {"webhooks": "DIABETES_WEBHOOK_URLS"}
    doc["feeds"].append({"name": "broken", "landingPrefix": "broken/",
                         "kinds": {"unlabelled": "score"},
                         "pipelines": {"score": "broken_score"}})
    path.write_text(json.dumps(doc))
    return path


def _broken_pipeline(root: Path) -> Path:
    """A pipeline whose only activity, Score, writes a summary that breaks the contract."""
    doc = json.loads((ROOT / "adf/pipeline/diabetes_score_only.json").read_text())
    score = next(a for a in doc["properties"]["activities"] if a["name"] == "Score")
    score["dependsOn"] = []
    score["typeProperties"]["command"] = BROKEN_SCORE
    doc["name"] = "broken_score"
    doc["properties"]["activities"] = [score]
    (root / "pipeline").mkdir(parents=True)
    (root / "pipeline" / "broken_score.json").write_text(json.dumps(doc))
    return root


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    saved = dict(os.environ)
    root = tmp_path_factory.mktemp("feeds")
    local = LocalStack(root / "stack", overrides={
        **FAST, "DEVSTACK_EVENTGRID_WATCH": "",  # runs start through POST /runs only
        "TRAIN_OPTIONS": '{"epochs": 4}', "FEEDS_FILE": str(_feeds_file(root / "feeds.json"))})
    local.overrides["DIABETES_WEBHOOK_URLS"] = local.receiver.url + "/diabetes"
    try:
        local.start()
        s = Stack(local)
        local.apply_to_environment()
        s.services().adf.deploy(_broken_pipeline(root / "broken-adf"))
        yield s
        local.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _land_diabetes(stack, kind, rows, variant, seed, name) -> str:
    from training.diabetes.generate import PREFIX, make_batch
    from training.generate import upload_batch

    return upload_batch(kind, rows, variant, seed, name=name, prefix=f"{PREFIX}/", make=make_batch,
                        container=stack.settings["LANDING_CONTAINER"],
                        connection_string=stack.settings["STORAGE_CONNECTION_STRING"])


def _today():
    import datetime as dt

    return dt.datetime.now(dt.UTC).date()


def _start(stack, blob, **more) -> dict:
    (run,) = stack.api.start({"files": [blob], **more})["runs"]
    return run


def _wait(stack, runs) -> list[dict]:
    return [stack.api.wait_for_run(r["batchId"], timeout=240) for r in runs]


def _fired(record) -> dict:
    return {a["kind"]: a for a in record["alerts"] if a["type"] == "Fired"}


def test_two_feeds_at_once_keep_their_runs_champions_and_alerts_apart(stack):
    # Training batches of both feeds side by side.
    digits_train = _start(stack, stack.land("labelled", 300, seed=81, name="feeds-digits-train"))
    diabetes_train = _start(stack, _land_diabetes(stack, "labelled", 300, "clean", 82,
                                                  "feeds-diabetes-train"))
    assert (digits_train["feed"], diabetes_train["feed"]) == ("digits", "diabetes")
    assert digits_train["batchId"].startswith("labelled-")  # the default feed's ids as ever
    assert diabetes_train["batchId"].startswith("diabetes-labelled-")
    d_train, r_train = _wait(stack, [digits_train, diabetes_train])
    assert (d_train["status"], r_train["status"]) == ("succeeded", "succeeded"), (d_train, r_train)
    assert (d_train["pipeline"], r_train["pipeline"]) == ("train_and_score",
                                                          "diabetes_train_and_score")
    assert r_train["feed"] == "diabetes" and "rmse" in r_train["outputs"]["Train"]["metrics"]
    assert r_train["outputs"]["Train"]["promoted"] and d_train["outputs"]["Train"]["promoted"]

    # Each feed's champion is its own, where its training code keeps it.
    ml = stack.services().ml
    digits_champion, _ = ml.read_json("models/champion.json")
    diabetes_champion, _ = ml.read_json("diabetes/models/champion.json")
    assert digits_champion["version"] == d_train["outputs"]["Train"]["modelVersion"]
    assert diabetes_champion["version"] == r_train["outputs"]["Train"]["modelVersion"]

    # Scoring: a clean batch of each feed, a drifted diabetes batch, and a weak diabetes model.
    runs = [_start(stack, stack.land("unlabelled", 200, seed=83, name="feeds-digits-clean")),
            _start(stack, _land_diabetes(stack, "unlabelled", 300, "clean", 84,
                                         "feeds-diabetes-clean"))]
    d_clean, r_clean = _wait(stack, runs)
    d_drifted, r_drifted = _wait(stack, [
        _start(stack, stack.land("unlabelled", 300, "drifted", seed=87, name="feeds-digits-drifted")),
        _start(stack, _land_diabetes(stack, "unlabelled", 300, "drifted", 85,
                                     "feeds-diabetes-drifted"))])
    r_weak, = _wait(stack, [_start(stack, _land_diabetes(
        stack, "labelled", 300, "clean", 86, "feeds-diabetes-weak"),
        trainOptions={"alpha": 1e9})])
    for run in (d_clean, d_drifted, r_clean, r_drifted, r_weak):
        assert run["status"] == "succeeded", run

    # The weak model stayed a challenger; neither champion moved for the other feed's runs.
    assert not r_weak["outputs"]["Train"]["promoted"]
    assert ml.read_json("models/champion.json")[0]["version"] == digits_champion["version"]
    assert ml.read_json("diabetes/models/champion.json")[0]["version"] == \
        diabetes_champion["version"]

    # The regression feed's own judgement, under its own subjects.
    drift = _fired(r_drifted)["prediction_drift"]
    assert drift["subject"] == "diabetes/predictions"
    # Both feeds drifted at once: two alerts, each fired, neither a duplicate of the other.
    digits_drift = _fired(d_drifted)["prediction_drift"]
    assert digits_drift["subject"] == "predictions" and digits_drift["id"] != drift["id"]
    assert "prediction_drift" not in _fired(r_clean)
    regression = _fired(r_weak)["metric_regression"]
    assert regression["subject"] == "diabetes/model"
    weak = next(c for c in r_weak["checks"] if c["kind"] == "metric_regression")
    assert weak["context"]["metric"] == "rmse" and weak["context"]["direction"] == "lower"
    # No cross-talk: the digits' runs raise nothing about the other feed, and vice versa.
    for run in (d_train, d_clean, d_drifted):
        assert all(not c["subject"].startswith("diabetes/") for c in run["checks"])
    for run in (r_train, r_clean, r_drifted, r_weak):
        assert all(c["subject"].startswith(("diabetes/", "run:diabetes-"))
                   for c in run["checks"]), run["checks"]

    # The feed's alerts go to its own sink; the digits' to the global one.
    def where() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for a in stack.stack.receiver.alerts("prediction_drift", "Fired"):
            subject = a["body"]["data"]["essentials"]["configurationItems"][0]
            out.setdefault(subject, set()).add(a["path"])
        return out

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(where()) < 2:
        time.sleep(0.2)
    assert where() == {"predictions": {"/alerts"}, "diabetes/predictions": {"/alerts/diabetes"}}

    # The run list filters by feed; an unknown feed is a 400 naming it.
    listed = stack.api.request("GET", "runs", params={"feed": "diabetes", "limit": 50}).json()
    assert {r["batchId"] for r in listed["runs"]} == {
        r["batchId"] for r in (r_train, r_clean, r_drifted, r_weak)}
    bad = stack.api.request("GET", "runs", params={"feed": "fraud"})
    assert bad.status_code == 400 and "unknown feed 'fraud'" in bad.json()["detail"]
    refused = stack.api.request("POST", "runs", json={"feed": "fraud"})
    assert refused.status_code == 400 and "unknown feed" in refused.json()["detail"]


def test_a_score_activity_writing_a_malformed_summary_is_a_contract_finding(stack):
    blob = "broken/unlabelled/" + _today().strftime("%Y/%m/%d") + "/broken-1.csv"
    stack.services().landing.upload_blob(blob, b"id,x\n1,2\n", overwrite=True)
    run = _start(stack, blob)
    assert run["feed"] == "broken" and run["batchId"].startswith("broken-unlabelled-")
    record = stack.api.wait_for_run(run["batchId"], timeout=120)
    assert record["status"] == "succeeded", record  # the run record still completes
    (contract,) = [c for c in record["checks"] if c["kind"] == "contract"]
    assert contract["subject"] == "broken/contract:predictions" and contract["firing"]
    assert "Score/outputs.json breaks the contract" in contract["summary"]
    assert "classCounts" in contract["summary"]
    assert _fired(record)["contract"]["subject"] == "broken/contract:predictions"
