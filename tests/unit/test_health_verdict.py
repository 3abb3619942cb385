"""Anonymous /api/health: one real check per interval whatever the request rate, and the
answer is `{"ok": ...}` only (the report needs the key)."""
import asyncio
import json
import threading

import azure.functions as func

from shared.monitoring.health import HealthVerdict, failing, settings_failure
from tests.app_index import app_functions


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class CountingCheck:
    def __init__(self, answers=(True,)):
        self.calls = 0
        self.answers = list(answers)

    def __call__(self):
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def test_the_verdict_is_reused_within_the_interval_and_checked_again_after_it():
    clock, check = Clock(), CountingCheck([True, False])
    verdict = HealthVerdict(ttl=15, clock=clock)

    async def scenario():
        first = [await verdict.ok(check) for _ in range(100)]
        clock.now += 14.9
        still = await verdict.ok(check)
        clock.now += 0.1
        after = await verdict.ok(check)
        return first, still, after

    first, still, after = asyncio.run(scenario())
    assert first == [True] * 100 and still is True and after is False
    assert check.calls == 2


def test_concurrent_callers_share_one_check_and_a_cancelled_caller_does_not_stop_it():
    release, started = threading.Event(), threading.Event()
    calls = []

    def slow_check():
        calls.append(1)
        started.set()
        assert release.wait(10)
        return True

    verdict = HealthVerdict(ttl=15)

    async def scenario():
        callers = [asyncio.ensure_future(verdict.ok(slow_check)) for _ in range(200)]
        await asyncio.to_thread(started.wait, 10)
        callers[0].cancel()  # a client that went away
        await asyncio.sleep(0)
        release.set()
        return await asyncio.gather(*callers[1:])

    answers = asyncio.run(scenario())
    assert answers == [True] * 199 and len(calls) == 1


def test_a_check_that_raises_is_not_ok_and_is_also_cached():
    calls = []

    def broken():
        calls.append(1)
        raise RuntimeError("boom")

    verdict = HealthVerdict(ttl=15, clock=Clock())

    async def scenario():
        return [await verdict.ok(broken) for _ in range(3)]

    assert asyncio.run(scenario()) == [False, False, False] and len(calls) == 1


def test_a_detailed_report_refreshes_the_verdict():
    clock, check = Clock(), CountingCheck([True])
    verdict = HealthVerdict(ttl=15, clock=clock)
    verdict.record(False)
    assert asyncio.run(verdict.ok(check)) is False and check.calls == 0
    clock.now += 20
    assert asyncio.run(verdict.ok(check)) is True and check.calls == 1


def test_failing_names_the_checks_that_are_not_ok():
    report = {"ok": False, "checks": {"settings": {"ok": True}, "storage": {"ok": False},
                                      "dataFactory": {"ok": False, "detail": "x"}}}
    assert failing(report) == ["dataFactory", "storage"]
    assert failing(settings_failure(ValueError("STORAGE_CONNECTION_STRING: missing"))) == [
        "settings"]


HANDLERS = {f.get_function_name(): (f.get_user_function(), f.get_trigger().get_dict_repr())
            for f in app_functions() if f.get_trigger().get_binding_name() == "httpTrigger"}


def test_health_is_anonymous_and_its_details_need_the_function_key():
    assert str(HANDLERS["health"][1]["authLevel"].value) == "anonymous"
    assert HANDLERS["health"][1]["route"] == "health"
    assert str(HANDLERS["health_details"][1]["authLevel"].value) == "function"
    assert HANDLERS["health_details"][1]["route"] == "health/details"


def test_anonymous_health_answers_ok_only_even_when_the_settings_are_broken(settings_env):
    import functions.health as health_module

    # A setting that fails validation: the report would quote it.
    settings_env.setenv("MAX_BATCH_FILES", "lots-of-secret-text")
    settings_env.setattr(health_module, "_verdict", None)
    req = func.HttpRequest("GET", "http://localhost/api/health", body=b"")
    anonymous = asyncio.run(HANDLERS["health"][0](req))
    assert anonymous.status_code == 503
    assert json.loads(anonymous.get_body()) == {"ok": False}
    detail = HANDLERS["health_details"][0](req)
    report = json.loads(detail.get_body())
    assert detail.status_code == 503 and report["ok"] is False
    assert "MAX_BATCH_FILES" in report["checks"]["settings"]["detail"]
