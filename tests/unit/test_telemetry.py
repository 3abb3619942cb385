"""Telemetry: nothing imported or started without APPLICATIONINSIGHTS_CONNECTION_STRING;
with OpenTelemetry's in-memory exporters, an activity's span, logs and metrics carry the
run's ids."""
import json
import logging
import subprocess
import sys

import pytest

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


@pytest.fixture
def exporters():
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans, logs, metrics = InMemorySpanExporter(), InMemoryLogExporter(), InMemoryMetricReader()
    tracer = TracerProvider()
    tracer.add_span_processor(SimpleSpanProcessor(spans))
    logger = LoggerProvider()
    logger.add_log_record_processor(SimpleLogRecordProcessor(logs))
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    telemetry.instrument(tracer, MeterProvider(metric_readers=[metrics]), logger)
    yield spans, logs, metrics
    telemetry.reset()
    root.setLevel(level)


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
