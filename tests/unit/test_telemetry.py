"""Telemetry: nothing imported or started without APPLICATIONINSIGHTS_CONNECTION_STRING;
with OpenTelemetry's in-memory exporters, an activity's span, logs and metrics carry the
run's ids."""
import json
import logging
import subprocess
import sys

from shared import telemetry

IDS = {"batchId": "labelled-0123456789abcdef0123", "instanceId": "labelled-0123456789abcdef0123",
       "adfRunId": "adf-run-2"}


def test_unset_imports_and_starts_nothing():
    code = ("import os, sys, json\n"
            "os.environ.pop('APPLICATIONINSIGHTS_CONNECTION_STRING', None)\n"
            "import function_app\n"
            "from shared import telemetry\n"
            "from opentelemetry import trace\n"
            "print(json.dumps({'mods': sorted(m for m in sys.modules if m.startswith("
            "('azure.monitor', 'opentelemetry.sdk'))), 'enabled': telemetry.enabled(),"
            "'provider': type(trace.get_tracer_provider()).__name__}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    got = json.loads(out.splitlines()[-1])
    assert got == {"mods": [], "enabled": False, "provider": "ProxyTracerProvider"}
    assert telemetry.configure({}) is False


def test_set_starts_the_distro_once(monkeypatch):
    import azure.monitor.opentelemetry as distro

    calls = []
    monkeypatch.setattr(distro, "configure_azure_monitor", lambda **kw: calls.append(kw))
    try:
        env = {"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x"}
        assert telemetry.configure(env) is True and telemetry.configure(env) is True
        assert calls == [{"connection_string": "InstrumentationKey=x"}]
    finally:
        telemetry.reset()


def _metric_points(reader) -> dict:
    out = {}
    for rm in reader.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                out[m.name] = [(dict(p.attributes), getattr(p, "value", None) or p.count)
                               for p in m.data.data_points]
    return out


def test_an_activity_span_logs_and_metrics_carry_the_run_ids(exporters, monkeypatch):
    from functions.orchestration import _traced

    spans, logs, metrics = exporters
    monkeypatch.setenv("STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true")
    result = {**IDS, "adfRunIds": ["adf-run-1", "adf-run-2"], "status": "succeeded",
              "durationSeconds": 12.5, "alerts": [
                  {"kind": "prediction_drift", "severity": "Sev2", "type": "Fired"},
                  {"kind": "feature_drift", "severity": "Sev3", "type": "Resolved"}]}

    def finish(services, payload):
        logging.getLogger("shared.runs.evaluation").info("judging %s", payload["batchId"])
        return result

    payload = {**IDS, "adfRunIds": ["adf-run-1", "adf-run-2"], "mode": "score"}
    assert _traced("finish_run", payload, finish) == result
    logging.getLogger("elsewhere").info("after the activity")

    (span,) = spans.get_finished_spans()
    assert span.name == "activity finish_run"
    assert {k: span.attributes[k] for k in IDS} == IDS
    records = [r.log_record for r in logs.get_finished_logs()]
    judged = [r for r in records if r.body == "judging " + IDS["batchId"]]
    assert len(judged) == 1 and {k: judged[0].attributes[k] for k in IDS} == IDS
    assert judged[0].trace_id == span.context.trace_id  # the log is in the span
    after = [r for r in records if r.body == "after the activity"]
    assert after and not any(k in after[0].attributes for k in IDS)

    points = _metric_points(metrics)
    assert points["runs_finished"] == [({"status": "succeeded", "mode": "score"}, 1)]
    assert points["run_duration_seconds"][0][0] == {"status": "succeeded", "mode": "score"}
    assert points["alerts_fired"] == [({"kind": "prediction_drift", "severity": "Sev2"}, 1)]


def test_ids_of_each_activity_payload():
    assert telemetry.ids_of({"batch": {"batchId": "b"}, "instanceId": "i"}) == {
        "batchId": "b", "instanceId": "i"}
    assert telemetry.ids_of({"batchId": "b", "runId": "r"}) == {"batchId": "b", "adfRunId": "r"}
    assert telemetry.ids_of("r") == {"adfRunId": "r"}
    assert telemetry.ids_of(None) == {}


def _story(logs, logger: str) -> list:
    return [r.log_record for r in logs.get_finished_logs()
            if r.instrumentation_scope.name == logger]


def test_every_log_line_of_a_run_carries_its_ids(exporters, monkeypatch):
    """The real `pipeline_run` replayed on a simulated clock, each activity through the
    app's wrapper and writing a log line: a failure, an automatic rerun, success. Every
    line names the batch and the instance, and every line after the ADF run exists its
    latest id."""
    import functions.orchestration as wrappers
    from tests.unit.test_orchestrators import FakeFactory, ended, running, simulate

    spans, logs, _ = exporters
    monkeypatch.setattr(wrappers, "_services", lambda: None)
    factory = FakeFactory(lambda run, n: (running() if n < 2 else
                                          ended("failed" if run == "run-1" else "succeeded")),
                          maxReruns=1)
    scripted = factory.activities()

    def traced(name, call):
        def activity(payload):
            def work(_services, p):
                logging.getLogger("story").info("%s working", name)
                return call(p)
            return wrappers._traced(name, payload, work)
        return activity

    monkeypatch.setattr(factory, "activities",
                        lambda: {n: traced(n, f) for n, f in scripted.items()})
    sim, rec = simulate(factory)
    sim.run()
    assert rec["runtimeStatus"] == "Completed"

    lines = _story(logs, "story")
    assert len(lines) == len(factory.calls) >= 8
    for line in lines:
        assert line.attributes["batchId"] == line.attributes["instanceId"] == "labelled-abc"
    before_adf = [r for r in lines if "adfRunId" not in r.attributes]
    assert [r.body for r in before_adf] == ["begin_run working", "start_adf_run working"]
    seen = [r.attributes["adfRunId"] for r in lines if "adfRunId" in r.attributes]
    assert seen[0] == "run-1" and seen[-1] == "run-2" and "run-2" in seen
    spans_by = {s.name: s for s in spans.get_finished_spans()}
    assert spans_by["activity finish_run"].attributes["adfRunId"] == "run-2"
    assert spans_by["activity get_adf_run_status"].attributes["instanceId"] == "labelled-abc"


class _Client:
    """A Durable client at its boundary: nothing runs yet, starts are kept."""

    def __init__(self):
        self.started = []

    async def get_status(self, instance_id):
        return None

    async def start_new(self, name, instance_id, payload):
        self.started.append(instance_id)


def test_the_starters_log_lines_carry_the_batch_and_instance(exporters):
    import asyncio
    from types import SimpleNamespace

    from shared.landing.batch import Batch
    from shared.orchestration import starters
    from shared.settings import load_settings

    _, logs, _ = exporters
    services = SimpleNamespace(settings=load_settings(
        {"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}))
    batch = Batch(batchId="unlabelled-0123456789abcdef0123", kind="unlabelled", mode="score",
                  manifestPath="state/manifests/x.json", files=[], reason="test")
    client = _Client()
    asyncio.run(starters.start_batches(client, services, [batch]))
    assert client.started == [batch.batchId]
    (line,) = _story(logs, "shared.orchestration.starters")
    assert line.attributes["batchId"] == line.attributes["instanceId"] == batch.batchId
