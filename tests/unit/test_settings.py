import pytest

from shared.settings import SettingsError, load_settings, setting_name, tick_gaps

BASE = {"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}


def test_defaults_load_with_only_storage_configured():
    s = load_settings(BASE)
    assert s.landing_container == "landing"
    assert s.landing_lookback_days == 2


def test_missing_storage_names_both_settings():
    with pytest.raises(SettingsError) as e:
        load_settings({})
    assert "STORAGE_CONNECTION_STRING" in str(e.value)
    assert "STORAGE_ACCOUNT_URL" in str(e.value)


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("LANDING_LOOKBACK_DAYS", "abc", "integer"),
        ("LANDING_LOOKBACK_DAYS", "-1", "greater than or equal to 0"),
        ("LANDING_QUIET_SECONDS", "soon", "number"),
        ("TASK_HUB_NAME", "bad name!", "pattern"),
        ("LANDING_CONTAINER", "x", "at least 3"),
    ],
)
def test_malformed_setting_is_named_with_what_is_expected(name, value, expected):
    with pytest.raises(SettingsError) as e:
        load_settings({**BASE, name: value})
    msg = str(e.value)
    assert name in msg and expected in msg and repr(value) in msg


def test_setting_name_maps_fields_to_environment_names():
    assert setting_name("landing_container") == "LANDING_CONTAINER"


def test_example_settings_file_lists_every_setting():
    import json
    from pathlib import Path

    from shared.settings import Settings

    values = json.loads(Path("local.settings.example.json").read_text())["Values"]
    missing = [setting_name(f) for f in Settings.model_fields if setting_name(f) not in values]
    assert missing == []


def test_readme_settings_table_names_every_setting():
    from pathlib import Path

    from shared.settings import Settings

    readme = Path("README.md").read_text()
    missing = [setting_name(f) for f in Settings.model_fields if setting_name(f) not in readme]
    assert missing == []


def test_alert_rule_actions_are_validated_with_the_settings():
    with pytest.raises(SettingsError) as e:
        load_settings({**BASE, "ALERT_RULE_ACTIONS": "drift-rule=explode"})
    assert "ALERT_RULE_ACTIONS" in str(e.value) and "'explode'" in str(e.value)
    assert load_settings({**BASE, "ALERT_RULE_ACTIONS": "drift-rule=retrain"})


@pytest.mark.parametrize("env, expected", [
    ({"WATCH_TICK_SCHEDULE": "*/5 * * * *"}, "WATCH_TICK_SCHEDULE: '*/5 * * * *' is not a "
     "six-field NCRONTAB expression"),
    ({"WATCH_TICK_SCHEDULE": "61 * * * * *"}, "is not a six-field NCRONTAB expression"),
    ({"WATCH_TICK_SCHEDULE": "0 * * * * *"}, "WATCH_TICK_SCHEDULE ticks up to 60s apart, "
     "longer than WATCH_INTERVAL_SECONDS (15s)"),
    ({"WATCH_TICK_SCHEDULE": "*/5 * * * * *", "WATCH_INTERVAL_SECONDS": "2"},
     "ticks up to 5s apart, longer than WATCH_INTERVAL_SECONDS (2s)"),
    # every 5 s in minutes 0-10 of each hour: 10:55 -> the next hour's 00:00
    ({"WATCH_TICK_SCHEDULE": "*/5 0-10 * * * *"}, "ticks up to 2945s apart"),
    ({"WATCH_TICK_SCHEDULE": "*/5 * 9-17 * * *"}, "WATCH_TICK_SCHEDULE: '*/5 * 9-17 * * *' "
     "does not tick every hour of every day"),
    ({"WATCH_TICK_SCHEDULE": "*/5 * * * * 1-5"}, "does not tick every hour of every day"),
])
def test_the_watchers_tick_schedule_is_checked_against_its_interval(env, expected):
    with pytest.raises(SettingsError) as e:
        load_settings({"STORAGE_CONNECTION_STRING": "x", **env})
    assert expected in str(e.value)
    # With per-run polling the ticks do nothing, so their schedule does not matter.
    assert load_settings({"STORAGE_CONNECTION_STRING": "x", "RUN_TRACKING": "poll", **env})


def test_tick_gaps_are_the_shortest_and_longest_between_two_ticks():
    assert tick_gaps("*/5 * * * * *") == (5.0, 5.0) and tick_gaps("* * * * * *") == (1.0, 1.0)
    assert tick_gaps("*/7 * * * * *") == (4.0, 7.0)  # 56 -> 0 is 4 s
    assert tick_gaps("0,15,30,45 * * * * *") == (15.0, 15.0)
    assert tick_gaps("0 * * * * *") == (60.0, 60.0) and tick_gaps("0 0 * * * *") == (3600.0,
                                                                                   3600.0)
    assert tick_gaps("*/10 0-10 * * * *") == (10.0, 2950.0)  # 10:50 -> the next hour's 00:00


def test_settings_built_from_a_dict_ignore_the_process_environment(monkeypatch):
    monkeypatch.setenv("ALERT_WEBHOOK_SECRET_NEXT", "leaked")
    s = load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"})
    assert s.alert_webhook_secret_next is None


def test_free_ports_are_below_the_ephemeral_range_and_never_handed_out_twice():
    from devstack.ports import RANGE, free_port

    ports = [free_port() for _ in range(30)]
    assert len(set(ports)) == 30
    assert all(RANGE[0] <= p < RANGE[1] and p < 32768 for p in ports)


def test_free_ports_come_from_the_slice_devstack_port_range_gives(monkeypatch):
    from devstack.ports import free_port

    monkeypatch.setenv("DEVSTACK_PORT_RANGE", "23000-23050")
    ports = [free_port() for _ in range(10)]
    assert all(23000 <= p < 23050 for p in ports), ports
    for bad in ("23000", "a-b", "23050-23000", "80-90"):
        monkeypatch.setenv("DEVSTACK_PORT_RANGE", bad)
        with pytest.raises(ValueError, match="DEVSTACK_PORT_RANGE"):
            free_port()
