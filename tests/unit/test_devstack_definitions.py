"""The local stack's fast clocks: retry intervals in the deployed ADF definitions capped,
every other field as committed."""
import json

from devstack.stack import ROOT, _cap_retry_intervals


def test_every_retry_interval_is_capped_and_nothing_else_changes():
    for path in (ROOT / "adf" / "pipeline").glob("*.json"):
        original = json.loads(path.read_text())
        capped = _cap_retry_intervals(original, 1)
        text = json.dumps(capped)
        assert '"retryIntervalInSeconds": 30' not in text
        assert json.dumps(original).replace('"retryIntervalInSeconds": 30',
                                            '"retryIntervalInSeconds": 1') == text, path.name


def test_nested_activities_are_capped_and_smaller_intervals_kept():
    definition = {"activities": [
        {"name": "Until", "typeProperties": {"activities": [
            {"name": "Check", "policy": {"retry": 3, "retryIntervalInSeconds": 30}}]}},
        {"name": "Quick", "policy": {"retry": 1, "retryIntervalInSeconds": 0}}]}
    capped = _cap_retry_intervals(definition, 2)
    assert capped["activities"][0]["typeProperties"]["activities"][0]["policy"] == {
        "retry": 3, "retryIntervalInSeconds": 2}
    assert capped["activities"][1]["policy"]["retryIntervalInSeconds"] == 0
