"""Landing layout, the rules mutation testing found unguarded: the exact quiet-time and size
boundaries, the manifest entry, temporary names in nested folders, and the batch id."""
import hashlib
from datetime import UTC, datetime, timedelta

from shared.landing.layout import LandingFile, batch_id, is_temporary, ready

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def lf(name="labelled/2026/11/21/a.csv", size=10, etag="e1", age=120):
    return LandingFile(name, size, etag, NOW - timedelta(seconds=age))


def test_ready_exactly_at_the_quiet_time_and_from_one_byte():
    assert ready(lf(age=60), NOW, 60) is True
    assert ready(lf(age=59), NOW, 60) is False
    assert ready(lf(size=1), NOW, 60) is True
    assert ready(lf(size=0), NOW, 60) is False


def test_manifest_entry_has_every_field():
    assert lf().as_manifest_entry() == {"name": "labelled/2026/11/21/a.csv", "size": 10,
                                        "etag": "e1",
                                        "lastModified": "2026-11-21T11:58:00+00:00"}


def test_temporary_is_judged_on_the_last_path_segment_only():
    assert is_temporary("labelled/2026/11/21/_tmp/x.csv") is False
    assert is_temporary("labelled/_2026/11/21/x.csv") is False
    assert is_temporary("labelled/2026/11/21/sub/_x.csv") is True
    assert is_temporary("x.PART") is True


def test_batch_id_is_the_documented_digest():
    files = [lf("b", etag="2"), lf("a", etag="1")]
    digest = hashlib.sha256(b"a|1\nb|2").hexdigest()
    assert batch_id("labelled", files) == f"labelled-{digest[:20]}"
    assert batch_id("labelled", [{"name": "a", "etag": "1"}, {"name": "b", "etag": "2"}]) == (
        batch_id("labelled", files))
