"""The in-memory cache of finished run records (`shared.runs.records`): bounded, least
recently used out first, and nobody can change what it keeps."""
from shared.runs.records import _FinishedCache


def test_least_recently_used_goes_first_and_copies_are_handed_out():
    cache = _FinishedCache(2)
    cache.put(("c", "a", "e1"), {"batchId": "a"})
    cache.put(("c", "b", "e1"), {"batchId": "b"})
    assert cache.get(("c", "a", "e1")) == {"batchId": "a"}  # a is now the most recent
    cache.put(("c", "d", "e1"), {"batchId": "d"})
    assert cache.get(("c", "b", "e1")) is None
    assert cache.get(("c", "a", "e1")) == {"batchId": "a"}
    assert cache.get(("c", "a", "e2")) is None  # another version of the record
    kept = {"batchId": "d", "outputs": {"x": 1}}
    cache.put(("c", "d", "e2"), kept)
    kept["outputs"]["x"] = 2
    handed = cache.get(("c", "d", "e2"))
    handed["outputs"]["x"] = 3
    assert cache.get(("c", "d", "e2")) == {"batchId": "d", "outputs": {"x": 1}}
