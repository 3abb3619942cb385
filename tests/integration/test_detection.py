"""Landing-zone detection against a real Azurite."""
import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from shared.landing.detection import Detector, UnknownFiles, claim_blob, manifest_blob
from shared.landing.layout import batch_id
from shared.services import get_services

TODAY = datetime.now(UTC)
DAY = f"{TODAY:%Y/%m/%d}"


def upload(name: str, data: bytes = b"id,p0\n1,2\n") -> None:
    get_services().landing.upload_blob(name, data, overwrite=True)


def landing_names() -> set[str]:
    return {b.name for b in get_services().landing.list_blobs()}


def detector() -> Detector:
    return Detector(get_services())  # services for the test's current settings


def claimed(det) -> list[str]:
    return [f.name for b in det.batches for f in b.files]


def test_detection_claims_exactly_the_new_settled_nonempty_files(app_env, settings_env):
    settings_env.setenv("LANDING_QUIET_SECONDS", "60")
    good = [f"labelled/{DAY}/a.csv", f"labelled/{DAY}/b.csv", f"unlabelled/{DAY}/c.csv"]
    for name in good:
        upload(name)
    upload(f"labelled/{DAY}/empty.csv", b"")
    upload(f"labelled/{DAY}/_inflight.csv")
    upload(f"labelled/{DAY}/d.csv.tmp")
    upload("notes/readme.txt")
    old_day = TODAY - timedelta(days=10)
    upload(f"labelled/{old_day:%Y/%m/%d}/old.csv")
    before = landing_names()

    # Just uploaded: nothing has settled yet.
    early = detector().sweep()
    assert early.batches == []
    assert sorted(early.unsettled) == sorted(good)

    later = datetime.now(UTC) + timedelta(minutes=2)
    det = detector().sweep(now=later)
    assert sorted(claimed(det)) == sorted(good)
    kinds = {b.kind: b for b in det.batches}
    assert set(kinds) == {"labelled", "unlabelled"}
    assert kinds["labelled"].mode == "train-and-score" and kinds["unlabelled"].mode == "score"

    # Seen before: a second pass claims nothing and reports who has them.
    again = detector().sweep(now=later)
    assert again.batches == []
    assert set(again.already_claimed) == set(good)
    assert set(again.already_claimed.values()) == {b.batchId for b in det.batches}
    assert landing_names() == before  # nothing deleted or moved


def test_manifest_lists_the_files_with_size_and_etag_and_a_stable_id(app_env):
    names = [f"labelled/{DAY}/m{i}.csv" for i in range(3)]
    for i, name in enumerate(names):
        upload(name, b"x" * (10 + i))
    det = detector().sweep()
    (batch,) = det.batches
    svc = get_services()
    manifest = Detector(svc).load_manifest(batch.batchId)
    assert manifest == batch
    stored, _ = svc.state.read_json(manifest_blob(batch.batchId))  # what ADF reads
    lz = svc.landing
    expected = []
    for name in names:
        p = lz.get_blob_client(name).get_blob_properties()
        expected.append({"name": name, "size": p.size, "etag": p.etag.strip('"')})
    got = [{k: f[k] for k in ("name", "size", "etag")} for f in stored["files"]]
    assert got == expected
    assert [f.model_dump(include={"name", "size", "etag"}) for f in manifest.files] == expected
    assert stored["batchId"] == batch.batchId == batch_id("labelled", stored["files"])
    assert stored["kind"] == manifest.kind == "labelled"
    assert stored["container"] == lz.container_name
    assert batch.manifestPath == f"{svc.settings.state_container}/manifests/{batch.batchId}.json"
    assert stored["manifestPath"] == batch.manifestPath


def test_max_batch_files_splits_a_large_landing(app_env, settings_env):
    settings_env.setenv("MAX_BATCH_FILES", "4")
    for i in range(10):
        upload(f"unlabelled/{DAY}/f{i:02}.csv")
    det = detector().sweep()
    assert sorted(len(b.files) for b in det.batches) == [2, 4, 4]
    assert len(set(claimed(det))) == 10


def test_concurrent_detectors_never_claim_twice_or_lose_a_file(app_env):
    names = [f"labelled/{DAY}/c{i:03}.csv" for i in range(60)]
    for name in names:
        upload(name)
    results, errors = [], []

    def run():
        try:
            results.append(detector().sweep())
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    # Two more detectors in separate processes race the threads.
    code = (
        "import json; from shared.landing.detection import Detector;"
        "from shared.services import get_services;"
        "d = Detector(get_services()).sweep();"
        "print(json.dumps([f.name for b in d.batches for f in b.files]))"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    proc_claims = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        proc_claims.extend(json.loads(out.strip().splitlines()[-1]))
    assert errors == []
    all_claims = [n for d in results for n in claimed(d)] + proc_claims
    assert sorted(all_claims) == sorted(names)  # each exactly once, none lost


def test_abandoned_claims_are_taken_over_after_the_timeout(app_env):
    name = f"labelled/{DAY}/orphan.csv"
    upload(name)
    d1 = detector()
    lz_file = next(iter(d1.landing.list_blobs(name_starts_with=name)))
    from shared.landing.detection import _listed
    now = datetime.now(UTC)
    f = _listed(lz_file)
    assert d1._reserve(f, None, now)  # reserved, then the detector "dies"

    soon = detector().sweep(now=now + timedelta(seconds=10))
    assert soon.batches == [] and name in soon.already_claimed
    timeout = get_services().settings.claim_timeout_seconds
    late = detector().sweep(now=now + timedelta(seconds=timeout + 5))
    assert claimed(late) == [name]
    md = get_services().state.properties(claim_blob(name, f.etag)).metadata
    assert md["state"] == "claimed" and md["batchid"] == late.batches[0].batchId


def test_claim_files_names_unknown_files_and_returns_existing_batches(app_env):
    good = f"unlabelled/{DAY}/x.csv"
    upload(good)
    upload(f"unlabelled/{DAY}/empty.csv", b"")
    with pytest.raises(UnknownFiles) as e:
        detector().claim_files([good, f"unlabelled/{DAY}/missing.csv", f"unlabelled/{DAY}/empty.csv", "bad/x.csv"])
    assert e.value.names == [f"unlabelled/{DAY}/missing.csv", f"unlabelled/{DAY}/empty.csv", "bad/x.csv"]
    first = detector().claim_files([good], mode="score")
    assert claimed(first) == [good]
    second = detector().claim_files([good])
    assert second.batches == [] and second.already_claimed == {good: first.batches[0].batchId}


def test_sealed_batches_stay_pending_until_their_run_starts(app_env):
    upload(f"labelled/{DAY}/p.csv")
    (batch,) = detector().sweep().batches
    now = datetime.now(UTC)
    assert detector().pending(older_than_seconds=60, now=now) == []  # too fresh to rescue
    (pending,) = detector().pending(older_than_seconds=60, now=now + timedelta(minutes=5))
    assert pending == batch
    detector().mark_started(batch.batchId)
    detector().mark_started(batch.batchId)  # idempotent
    assert detector().pending(older_than_seconds=0, now=now + timedelta(minutes=5)) == []


def test_a_request_for_files_another_detector_is_sealing_reports_them_not_an_error(app_env):
    import asyncio

    from shared.landing.detection import _listed
    from shared.orchestration.starters import start_files

    name = f"unlabelled/{DAY}/being-sealed.csv"
    upload(name)
    other = detector()
    listed = next(iter(other.landing.list_blobs(name_starts_with=name)))
    assert other._reserve(_listed(listed), None, datetime.now(UTC))  # reserved, not yet sealed
    # No batch to start, so no Durable client is needed for this answer.
    result = asyncio.run(start_files(None, get_services(), [name], None, "test"))
    assert result == {"runs": [], "beingClaimed": [name]}


def test_the_sealed_batch_log_line_carries_the_batch_and_its_instance(app_env, exporters):
    _, logs, _ = exporters
    upload(f"unlabelled/{DAY}/story.csv")
    (batch,) = detector().sweep(now=datetime.now(UTC) + timedelta(minutes=2)).batches
    (line,) = [r.log_record for r in logs.get_finished_logs()
               if str(r.log_record.body).startswith("sealed batch")]
    assert line.attributes["batchId"] == line.attributes["instanceId"] == batch.batchId


def test_a_sweep_batches_each_feed_apart_with_its_own_ids_and_markers(app_env, settings_env,
                                                                        tmp_path):
    from shared.markers import newest_data, read_marker

    feeds = tmp_path / "feeds.json"
    feeds.write_text(open("feeds.example.json").read())
    settings_env.setenv("FEEDS_FILE", str(feeds))
    digits = [f"labelled/{DAY}/a.csv", f"unlabelled/{DAY}/b.csv"]
    diabetes = [f"diabetes/labelled/{DAY}/a.csv", f"diabetes/unlabelled/{DAY}/b.csv"]
    for name in digits + diabetes + [f"diabetes/other/{DAY}/c.csv"]:
        upload(name)
    det = detector().sweep()
    got = {(b.feed, b.kind): b for b in det.batches}
    assert set(got) == {("digits", "labelled"), ("digits", "unlabelled"),
                        ("diabetes", "labelled"), ("diabetes", "unlabelled")}
    expected = {("digits", "labelled"): digits[0], ("digits", "unlabelled"): digits[1],
                ("diabetes", "labelled"): diabetes[0], ("diabetes", "unlabelled"): diabetes[1]}
    for (feed, kind), b in got.items():
        assert [f.name for f in b.files] == [expected[feed, kind]]
        assert b.batchId.startswith(f"{kind}-" if feed == "digits" else f"diabetes-{kind}-")
        assert b.mode == ("train-and-score" if kind == "labelled" else "score")
    state = get_services().state
    assert read_marker(state, newest_data("labelled")) is not None
    assert read_marker(state, newest_data("labelled", "diabetes")) is not None
    # A sealer's look at one feed's kind takes only that feed's files.
    upload(f"diabetes/labelled/{DAY}/later.csv")
    upload(f"labelled/{DAY}/later.csv")
    from shared.runs.activities import seal_batches

    sealed = seal_batches(get_services(), {"kind": "labelled", "feed": "diabetes"})
    assert [[f["name"] for f in b["files"]] for b in sealed["batches"]] == [
        [f"diabetes/labelled/{DAY}/later.csv"]]
    assert sealed["batches"][0]["feed"] == "diabetes"
