from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import BadRequest
from shared.landing.layout import (
    MAX_NAME_LENGTH,
    LandingFile,
    batch_id,
    check_landing_name,
    check_prefix,
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


# --- hole 1: blob names that escape the landing zone --------------------------------------


@pytest.mark.parametrize("name,rule", [
    ("labelled/2024/01/01/../../../../other-container/x.csv", "'..' segment"),
    ("labelled/2024/01/01/x/../a.csv", "'..' segment"),  # an alias of labelled/2024/01/01/a.csv
    ("labelled/2024/01/01/./a.csv", "'.' or '..' segment"),
    ("labelled/2024/01/01//a.csv", "empty"),
    ("labelled/2024/01/01/", "empty"),
    ("labelled/2024/01/01/a\\..\\b.csv", "backslash"),
    ("labelled/2024/01/01/a.csv\n", "control character"),
    ("labelled/2024/01/01/a\x00.csv", "control character"),
    ("labelled/2024/01/01/a\x85.csv", "control character"),
    ("labelled/２０２４/01/01/a.csv", "expected {labelled|unlabelled}/YYYY/MM/DD/<file>"),
    ("labelled/2024/1/01/a.csv", "expected"),
    ("labelled/2024/02/30/a.csv", "not a date"),
    ("Labelled/2024/01/01/a.csv", "expected"),
    ("labelled/2024/01/01/" + "x" * MAX_NAME_LENGTH, "characters; at most"),
    ("", "non-empty"),
])
def test_hole1_a_name_outside_the_layout_is_refused_naming_the_rule(name, rule):
    with pytest.raises(BadRequest) as e:
        check_landing_name(name)
    assert rule in e.value.detail and e.value.status == 400
    assert kind_of(name) is None


def test_hole1_names_in_the_layout_pass_whole():
    assert check_landing_name("labelled/2024/02/29/a.csv") == "labelled"
    assert check_landing_name("unlabelled/2024/01/01/sub/dir/a b.csv") == "unlabelled"
    longest = "labelled/2024/01/01/" + "x" * (MAX_NAME_LENGTH - len("labelled/2024/01/01/"))
    assert check_landing_name(longest) == "labelled"
    # The claim of the longest name still fits Azure's blob name limit.
    assert len("claims/" + longest + "@0x8DD0C0FFEE0C0FFE") <= 1024


@pytest.mark.parametrize("prefix,ok", [
    ("labelled/", True), ("unlabelled/2024/", True), ("labelled/2024/01/", True),
    ("labelled/2024/01/01/", True), ("labelled/2024/01/01/sub/", True),
    ("labelled", False), ("labelled/20", False), ("labelled/2024/01/01/../../x/", False),
    ("other/", False), ("labelled//", False), ("labelled/2024\\01/", False),
])
def test_hole1_prefixes_stay_inside_the_layout(prefix, ok):
    if ok:
        assert check_prefix(prefix) == prefix
    else:
        with pytest.raises(BadRequest):
            check_prefix(prefix)
