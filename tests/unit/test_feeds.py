"""The feeds file: the default feed is today's app, a good file gives each feed its
pipelines, profile and settings, and every mistake is one line naming the feed and field."""
from __future__ import annotations

import json

import pytest

from shared.checks.profile import DEFAULT, Profile
from shared.feeds import FeedsError, default_feeds, load_feeds, parse_feeds
from shared.settings import load_settings

S = load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
                   "ALERT_TEAMS_WEBHOOK_URL": "https://global.example/teams",
                   "ALERT_WEBHOOK_URLS": "https://global.example/hook"})
ENV = {"DIABETES_TEAMS": "https://diabetes.example/teams"}
DIABETES = {
    "name": "diabetes", "landingPrefix": "diabetes/",
    "pipelines": {"train-and-score": "diabetes_train_and_score", "score": "diabetes_score_only"},
    "task": "regression", "primaryMetric": {"name": "rmse", "direction": "lower", "tolerance": 2},
    "checks": {"CHECK_DRIFT_FALSE_ALARM_RATE": 0.02, "CHECK_MIN_HISTORY": 3},
    "alerts": {"teams": "DIABETES_TEAMS"},
}


def parse(*feeds, env=ENV):
    return parse_feeds(json.dumps({"feeds": list(feeds)}), S, env, "feeds.json")


def problems_of(*feeds, env=ENV, text=None):
    with pytest.raises(FeedsError) as info:
        parse_feeds(text or json.dumps({"feeds": list(feeds)}), S, env, "feeds.json")
    return info.value.problems


def test_no_feeds_file_is_the_single_default_feed_with_todays_behaviour():
    feeds = load_feeds(S, {})
    assert feeds.names == ["digits"] and feeds == default_feeds(S)
    digits = feeds["digits"]
    assert digits.profile == DEFAULT == Profile()
    assert digits.settings is S  # no override: the very same settings
    assert dict(digits.kinds) == {"labelled": "train-and-score", "unlabelled": "score"}
    assert (digits.pipeline_for("train-and-score"), digits.pipeline_for("score")) == (
        "train_and_score", "score_only")
    assert feeds.for_blob("labelled/2026/11/26/a.csv") == (digits, "labelled")
    assert feeds.for_blob("elsewhere/a.csv") is None


def test_a_good_file_gives_each_feed_its_pipelines_profile_settings_and_sinks(tmp_path):
    path = tmp_path / "feeds.json"
    path.write_text(json.dumps({"feeds": [{"name": "digits"}, DIABETES]}))
    s = S.model_copy(update={"feeds_file": str(path)})
    feeds = load_feeds(s, ENV)
    d = feeds["diabetes"]
    assert d.profile == Profile("regression", "rmse", "lower", 2.0)
    assert d.pipeline_for("score") == "diabetes_score_only"
    assert (d.settings.check_drift_false_alarm_rate, d.settings.check_min_history) == (0.02, 3)
    assert d.settings.alert_teams_webhook_url == "https://diabetes.example/teams"
    assert d.settings.alert_webhook_urls == "https://global.example/hook"  # falls back
    assert feeds["digits"].settings.check_min_history == S.check_min_history
    assert feeds.for_blob("diabetes/unlabelled/2026/11/26/a.csv") == (d, "unlabelled")
    assert feeds.for_blob("labelled/2026/11/26/a.csv")[0].name == "digits"
    assert feeds.for_blob("diabetes/other/a.csv") is None


@pytest.mark.parametrize("change, expected", [
    ({"task": "regresion"}, "feed 'diabetes' (feeds[0]): task: Input should be "
                            "'classification' or 'regression' (got 'regresion')"),
    ({"pipelines": {"train-and-score": "x"}},
     "feed 'diabetes' (feeds[0]): pipelines: no pipeline for mode 'score', which kind "
     "'unlabelled' uses"),
    ({"primaryMetric": None}, "feed 'diabetes' (feeds[0]): primaryMetric: a regression feed "
                              "declares its metric"),
    ({"primaryMetric": {"name": "rmse", "direction": "down"}},
     "feed 'diabetes' (feeds[0]): primaryMetric.direction: Input should be 'higher' or 'lower'"),
    ({"primaryMetric": {"name": "rmse", "tolerance": -1}},
     "feed 'diabetes' (feeds[0]): primaryMetric.tolerance: Input should be greater than or "
     "equal to 0"),
    ({"checks": {"CHECK_MIN_HISTORY": 1}}, "feed 'diabetes' (feeds[0]): checks.CHECK_MIN_HISTORY:"),
    ({"checks": {"ADF_ENDPOINT": "x"}},
     "feed 'diabetes' (feeds[0]): checks.ADF_ENDPOINT: not a CHECK_* or FRESHNESS_* setting"),
    ({"alerts": {"slack": "NOT_SET"}},
     "feed 'diabetes' (feeds[0]): alerts.slack: app setting NOT_SET is not set"),
    ({"alerts": {"teams": "https://x"}}, "feed 'diabetes' (feeds[0]): alerts.teams: String "
                                         "should match pattern"),
    ({"name": "Diabetes!"}, "feed 'Diabetes!' (feeds[0]): name: String should match pattern"),
    ({"landingPrefix": "diabetes"}, "feed 'diabetes' (feeds[0]): landingPrefix: String should "
                                    "match pattern"),
    ({"colour": "blue"}, "feed 'diabetes' (feeds[0]): colour: Extra inputs are not permitted"),
])
def test_each_mistake_names_the_feed_and_the_field(change, expected):
    found = problems_of({**DIABETES, **change})
    assert len(found) == 1 and found[0].startswith(expected), found


def test_every_problem_of_a_file_is_reported_at_once_one_line_each():
    with pytest.raises(FeedsError) as info:
        parse({**DIABETES, "task": "ranking"}, {"name": "b", "pipelines": {"score": "s"}},
              {"name": "c", "landingPrefix": "diabetes/"}, {"name": "d", "landingPrefix": "diabetes/"})
    text = str(info.value)
    assert text.startswith("feeds.json: 3 problem(s)\n")
    assert len(info.value.problems) == 3 and text.count("\n  - ") == 3
    assert "feed 'diabetes' (feeds[0]): task:" in text
    assert "feed 'b' (feeds[1]): pipelines: no pipeline for mode 'train-and-score'" in text
    assert "feed 'd': landingPrefix: 'diabetes/' is also feed 'c''s: two feeds on one prefix" in text


def test_prefixes_may_nest_only_outside_each_others_files():
    assert parse({"name": "digits"}, DIABETES).names == ["digits", "diabetes"]
    found = problems_of({"name": "digits"}, {**DIABETES, "landingPrefix": "labelled/x/"})
    assert found == ["feed 'diabetes': landingPrefix: 'labelled/x/' lies inside feed 'digits''s "
                     "files (kind 'labelled')"]
    assert problems_of({"name": "a"}, {"name": "a", "landingPrefix": "b/"}) == [
        "feed 'a' (feeds[1]): name: 'a' is also feeds[0]"]


def test_an_unreadable_or_empty_file_is_one_clear_problem(tmp_path):
    assert problems_of(text="{not json")[0].startswith("not valid JSON")
    assert problems_of(text='{"feeds": []}') == [
        "file: feeds: List should have at least 1 item after validation, not 0"]
    s = S.model_copy(update={"feeds_file": str(tmp_path / "missing.json")})
    with pytest.raises(FeedsError, match="missing.json: 1 problem"):
        load_feeds(s, {})


def test_the_example_feeds_file_is_valid():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "feeds.example.json"
    feeds = parse_feeds(example.read_text(), S, {}, str(example))
    assert feeds.names == ["digits", "diabetes"]
    assert feeds["diabetes"].profile.task == "regression"
