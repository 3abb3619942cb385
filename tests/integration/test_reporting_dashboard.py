"""The dashboard's cost does not grow with history: against real Azurite, gathering the
overview makes the same reads after 5 finished runs as after 25, and never reads a
finished run's record (the summary feeds the plots)."""
from datetime import UTC, datetime

from shared.dashboard.data import alerts_data, overview_data
from shared.reporting import record_finished_run
from shared.runs.records import RunRecords
from shared.services import get_services
from tests import run_samples


class Counting:
    """A BlobState that records the names it reads and the prefixes it lists."""

    def __init__(self, state):
        self.state, self.reads, self.lists = state, [], []

    def read_json(self, name):
        self.reads.append(name)
        return self.state.read_json(name)

    def list(self, prefix, **kw):
        self.lists.append(prefix)
        return self.state.list(prefix, **kw)

    def __getattr__(self, name):
        return getattr(self.state, name)


def _finish(services, records):
    rr = RunRecords(services.state)
    for rec in records:
        rr.update(rec["batchId"], rec)
        record_finished_run(services, rec)


def _gather(services):
    counting = Counting(services.state)
    object.__setattr__(services, "state", counting)  # the cached_property's slot
    try:
        data = overview_data(services, datetime.now(UTC), health=False)
        alerts_data(services, datetime.now(UTC))
    finally:
        object.__setattr__(services, "state", counting.state)
    return data, counting


def test_overview_reads_the_same_whatever_the_history(app_env):
    services = get_services()
    records = run_samples.judged([run_samples.record(i, mode="score") for i in range(25)])
    _finish(services, records[:5])
    few, seen_few = _gather(services)
    _finish(services, records[5:])
    many, seen_many = _gather(services)

    assert len(few["summary"]["runs"]) == 5 and len(many["summary"]["runs"]) == 25
    assert "dashboard/summary.json" in seen_many.reads and "runs-active/" in seen_many.lists
    assert sorted(seen_few.reads) == sorted(seen_many.reads)
    assert seen_few.lists == seen_many.lists
    assert not [n for n in seen_many.reads if n.startswith("runs/")]
    assert "runs-index/" not in seen_many.lists
