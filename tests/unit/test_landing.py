from datetime import UTC, datetime, timedelta

from shared.landing.layout import (
    LandingFile,
    batch_id,
    chunk,
    is_temporary,
    kind_of,
    ready,
    recent_prefixes,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def f(name, size=10, age=120.0, etag='"0x1"'):
    return LandingFile(name, size, etag, NOW - timedelta(seconds=age))


def test_kind_of_follows_the_layout():
    assert kind_of("labelled/2026/11/24/a.csv") == "labelled"
    assert kind_of("unlabelled/2026/11/24/sub/a.csv") == "unlabelled"
    assert kind_of("labelled/2026/13/24/a.csv") is None  # no 13th month
    assert kind_of("other/2026/11/24/a.csv") is None
    assert kind_of("labelled/a.csv") is None


def test_temporary_names():
    assert is_temporary("labelled/2026/11/24/_a.csv")
    assert is_temporary("labelled/2026/11/24/.a.csv")
    assert is_temporary("labelled/2026/11/24/a.csv.tmp")
    assert is_temporary("labelled/2026/11/24/a.csv.PARTIAL")
    assert not is_temporary("labelled/2026/11/24/a_b.csv")


def test_ready_needs_size_settling_and_a_final_name():
    assert ready(f("labelled/2026/11/24/a.csv"), NOW, 60)
    assert not ready(f("labelled/2026/11/24/a.csv", size=0), NOW, 60)
    assert not ready(f("labelled/2026/11/24/a.csv", age=30), NOW, 60)
    assert not ready(f("labelled/2026/11/24/a.csv.tmp"), NOW, 60)


def test_recent_prefixes_cover_today_and_the_lookback_per_kind():
    assert recent_prefixes(NOW, 1) == [
        "labelled/2026/11/24/", "labelled/2026/11/23/",
        "unlabelled/2026/11/24/", "unlabelled/2026/11/23/",
    ]


def test_batch_id_depends_on_names_and_etags_only():
    a, b = f("labelled/2026/11/24/a.csv"), f("labelled/2026/11/24/b.csv", size=99)
    assert batch_id("labelled", [a, b]) == batch_id("labelled", [b, a])
    assert batch_id("labelled", [a, b]) == batch_id("labelled", [a.as_manifest_entry(), b])
    assert batch_id("labelled", [a]) != batch_id("labelled", [a, b])
    changed = f("labelled/2026/11/24/a.csv", etag='"0x2"')
    assert batch_id("labelled", [changed]) != batch_id("labelled", [a])
    assert batch_id("labelled", [a]).startswith("labelled-")


def test_chunk_is_stable_and_bounded():
    files = [f(f"labelled/2026/11/24/{i:03}.csv") for i in range(7)]
    parts = chunk(list(reversed(files)), 3)
    assert [len(p) for p in parts] == [3, 3, 1]
    assert [x.name for p in parts for x in p] == sorted(x.name for x in files)
