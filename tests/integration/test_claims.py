"""The claim protocol under fault injection, against a real Azurite: a detector stopped at
every storage write of a seal, then another detector and the sweep's rescue after the
claim timeout; every file ends in exactly one batch and every batch is started once.
Also: new content under a processed name is new data."""
from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from shared.landing.detection import Detector
from shared.services import get_services


def day() -> str:
    """Today's partition, when the test runs (not when the module was imported)."""
    return f"{datetime.now(UTC):%Y/%m/%d}"


def soon() -> datetime:
    """A sweep's `now` after the files just uploaded have settled."""
    return datetime.now(UTC) + timedelta(minutes=5)
WRITES = ("create", "replace", "put", "set_metadata", "delete", "update")


class Crash(Exception):
    """The detector's process is gone at this write."""


class StoppingState:
    """The real BlobState, except that write number `stop_at` (0-based) never happens."""

    def __init__(self, real, stop_at: int):
        self.real, self.left, self.writes = real, stop_at, []

    def __getattr__(self, name):
        attr = getattr(self.real, name)
        if name not in WRITES:
            return attr

        def write(*args, **kwargs):
            if self.left == 0:
                raise Crash(f"{name} {args[0]}")
            self.left -= 1
            self.writes.append(f"{name} {args[0]}")
            return attr(*args, **kwargs)
        return write


def upload(name: str, data: bytes = b"id,p0\n1,2\n") -> None:
    get_services().landing.upload_blob(name, data, overwrite=True)


def detector(stop_at: int | None = None) -> Detector:
    svc = get_services()
    state = svc.state if stop_at is None else StoppingState(svc.state, stop_at)
    return Detector(SimpleNamespace(settings=svc.settings, feeds=svc.feeds, landing=svc.landing,
                                    state=state))


class Runs:
    """What the glue would start: a detector's batches and the rescued pending ones, each
    started once by batch id (the Durable instance id), marking it started as begin_run does."""

    def __init__(self):
        self.started: dict[str, list[str]] = {}

    def start(self, batches) -> None:
        for b in batches:
            files = [f.name for f in b.files]
            assert self.started.setdefault(b.batchId, files) == files  # same id, same files
            Detector(get_services()).mark_started(b.batchId)

    def sweep_and_rescue(self, now: datetime) -> None:
        d = detector()
        self.start(d.sweep(now=now).batches)
        self.start(d.pending(0, now=now))

    def files(self) -> list[str]:
        return sorted(f for files in self.started.values() for f in files)


def seal_writes(n_files: int) -> int:
    """How many writes a clean seal of `n_files` takes (counted, not assumed)."""
    names = [f"labelled/{day()}/count-{i}.csv" for i in range(n_files)]
    for n in names:
        upload(n)
    d = detector(stop_at=10**6)
    (batch,) = d.sweep(now=soon()).batches
    assert sorted(f.name for f in batch.files) == names
    return len(d.state.writes)


@pytest.fixture
def claim_env(app_env, settings_env):
    settings_env.setenv("LANDING_QUIET_SECONDS", "0")
    settings_env.setenv("PENDING_RESTART_SECONDS", "0")
    return app_env


def test_a_detector_stopped_at_any_write_of_a_seal_leaves_every_file_in_one_batch(claim_env,
                                                                                   settings_env):
    total = seal_writes(3)
    assert total >= 3 + 3 + 2 + 3  # reserve, bind, manifest + pending, finalise (+ marker)
    timeout = get_services().settings.claim_timeout_seconds
    for stop_at in range(total):
        # A fresh landing zone per case: containers unique to this case.
        suffix = f"c{stop_at}-{uuid.uuid4().hex[:6]}"
        settings_env.setenv("LANDING_CONTAINER", f"landing-{suffix}")
        settings_env.setenv("STATE_CONTAINER", f"state-{suffix}")
        names = [f"labelled/{day()}/f{i}.csv" for i in range(3)]
        for n in names:
            upload(n)
        t0 = soon()
        with pytest.raises(Crash):
            detector(stop_at).sweep(now=t0)
        runs = Runs()
        runs.sweep_and_rescue(t0 + timedelta(seconds=1))  # before the timeout: nothing taken over
        runs.sweep_and_rescue(t0 + timedelta(seconds=timeout + 1))
        runs.sweep_and_rescue(t0 + timedelta(seconds=2 * timeout + 2))  # and nothing more later
        assert runs.files() == names, f"stopped at write {stop_at}: {runs.started}"


def test_two_detectors_racing_on_200_files_one_stopping_midway(claim_env):
    names = [f"unlabelled/{day()}/r{i:03d}.csv" for i in range(200)]
    for n in names:
        upload(n)
    t0 = soon()
    runs, errors = Runs(), []

    def race(d):
        try:
            runs.start(d.sweep(now=t0).batches)
        except Crash as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(d,)) for d in (detector(), detector(150))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    timeout = get_services().settings.claim_timeout_seconds
    runs.sweep_and_rescue(t0 + timedelta(seconds=timeout + 1))
    runs.sweep_and_rescue(t0 + timedelta(seconds=2 * timeout + 2))
    assert len(errors) == 1
    assert runs.files() == names


def test_new_content_under_a_processed_name_is_processed_again_and_says_so(claim_env):
    name = f"labelled/{day()}/again.csv"
    upload(name, b"id,p0\n1,2\n")
    t0 = soon()
    (first,) = detector().sweep(now=t0).batches
    assert first.files[0].previousBatchId is None
    seen = detector().sweep(now=t0 + timedelta(minutes=1))
    assert seen.batches == [] and seen.already_claimed == {name: first.batchId}

    upload(name, b"id,p0\n1,3\n")  # overwritten with new content: a new etag
    (second,) = detector().sweep(now=soon() + timedelta(minutes=2)).batches
    assert second.batchId != first.batchId
    assert [(f.name, f.previousBatchId) for f in second.files] == [(name, first.batchId)]
    manifest = Detector(get_services()).load_manifest(second.batchId)
    assert manifest.files[0].previousBatchId == first.batchId
    # A request naming the file gets the batch of its current content.
    again = detector().claim_files([name])
    assert again.batches == [] and again.already_claimed == {name: second.batchId}
