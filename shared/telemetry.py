"""Telemetry to Application Insights through the Azure Monitor OpenTelemetry distro, only
when APPLICATIONINSIGHTS_CONNECTION_STRING is set: logs, traces and a few metrics.

Not set: `configure` returns at once, nothing of OpenTelemetry's SDK or the distro is
imported, and `activity` only keeps the run's ids in a context variable (stdlib).

Set (`function_app` calls `configure()` at start-up):
- every log record made while an activity of a run is working carries the run's ids as
  attributes (`customDimensions` in Application Insights): `batchId`, `instanceId`,
  `adfRunId` (the latest ADF run), as far as the activity's payload or result names them
  (`pipeline_run` hands every activity the batch and instance, and the ADF run once there
  is one), so `traces | where customDimensions.batchId == "<id>"` finds a run's story;
  code outside an activity that logs about a batch (detection, the starters) sets them
  with `run_context`;
- each pipeline activity is a span `activity <name>` with the same attributes;
- metrics (meter `adf_ml_glue`): `runs_started` {mode}, `runs_finished` {status, mode},
  `run_duration_seconds` (histogram) {status, mode}, `alerts_fired` {kind, severity} for the
  alerts a run's checks fired or escalated.
"""
from __future__ import annotations

import contextvars
import logging
import os
from contextlib import contextmanager

CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
RUN_IDS = ("batchId", "instanceId", "adfRunId")
METER = "adf_ml_glue"

_ids: contextvars.ContextVar[tuple] = contextvars.ContextVar("adf_ml_glue_run_ids", default=())
_state: dict = {"enabled": False}


def current_ids() -> dict:
    """The ids of the run whose activity is working in this context."""
    return dict(_ids.get())


def enabled() -> bool:
    return _state["enabled"]


class RunIdsFilter(logging.Filter):
    """Copies the current run's ids onto each record (as attributes an OpenTelemetry
    logging handler exports); a record that names its own keeps them."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in current_ids().items():
            if value is not None and not hasattr(record, key):
                setattr(record, key, value)
        return True


def configure(environ=None) -> bool:
    """Start exporting when the connection string is set; False (and no import) if not."""
    env = os.environ if environ is None else environ
    if not env.get(CONNECTION_SETTING) or enabled():
        return enabled()
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(connection_string=env[CONNECTION_SETTING])
    instrument()
    return True


def instrument(tracer_provider=None, meter_provider=None, logger_provider=None) -> None:
    """Create the tracer and instruments and add the run-ids filter to the exporting log
    handlers (the distro's, or one made here for `logger_provider`, e.g. in tests)."""
    from opentelemetry import metrics, trace

    handlers = [h for h in logging.getLogger().handlers
                if type(h).__name__ == "LoggingHandler"]
    if logger_provider is not None:
        from opentelemetry.sdk._logs import LoggingHandler

        handler = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
        logging.getLogger().addHandler(handler)
        handlers = [handler]
    for handler in handlers:
        if not any(isinstance(f, RunIdsFilter) for f in handler.filters):
            handler.addFilter(RunIdsFilter())
    tracer = (tracer_provider.get_tracer(METER) if tracer_provider
              else trace.get_tracer(METER))
    meter = meter_provider.get_meter(METER) if meter_provider else metrics.get_meter(METER)
    _state.update(
        enabled=True, tracer=tracer, handlers=handlers,
        runs_started=meter.create_counter("runs_started", "{run}", "runs begun"),
        runs_finished=meter.create_counter("runs_finished", "{run}", "runs ended, by status"),
        run_duration=meter.create_histogram("run_duration_seconds", "s", "run duration"),
        alerts_fired=meter.create_counter("alerts_fired", "{alert}",
                                          "alerts fired or escalated by a run's checks"))


def reset() -> None:
    """Forget the instruments and remove the handlers `instrument` added (tests)."""
    for handler in _state.get("handlers", []):
        logging.getLogger().removeHandler(handler)
    _state.clear()
    _state["enabled"] = False


def ids_of(payload) -> dict:
    """The run ids an activity's payload or result names (missing ones are absent)."""
    if not isinstance(payload, dict):
        return {"adfRunId": payload} if isinstance(payload, str) and payload else {}
    batch = payload.get("batch") if isinstance(payload.get("batch"), dict) else {}
    runs = payload.get("adfRunIds") or []
    found = {
        "batchId": payload.get("batchId") or batch.get("batchId"),
        "instanceId": payload.get("instanceId"),
        "adfRunId": payload.get("runId") or (runs[-1] if runs else None),
    }
    return {k: v for k, v in found.items() if v}


@contextmanager
def run_context(**ids):
    """Log records made inside carry these ids (merged with any outer ones)."""
    token = _ids.set(tuple({**current_ids(), **{k: v for k, v in ids.items() if v}}.items()))
    try:
        yield
    finally:
        _ids.reset(token)


class _Scope:
    def __init__(self, span):
        self.span = span

    def learned(self, result) -> None:
        """Ids the activity's result names (e.g. the ADF run it started)."""
        ids = ids_of(result)
        _ids.set(tuple({**current_ids(), **ids}.items()))
        if self.span is not None:
            for k, v in ids.items():
                self.span.set_attribute(k, v)


@contextmanager
def activity(name: str, payload):
    """Around one pipeline activity: the run's ids in the log context, and a span when
    telemetry is on."""
    with run_context(**ids_of(payload)):
        if not enabled():
            yield _Scope(None)
            return
        with _state["tracer"].start_as_current_span(f"activity {name}") as span:
            for k, v in current_ids().items():
                span.set_attribute(k, v)
            yield _Scope(span)


def run_started(mode: str | None) -> None:
    if enabled():
        _state["runs_started"].add(1, {"mode": mode or "unknown"})


def run_finished(summary: dict, mode: str | None) -> None:
    """Count the finished run and its fired alerts (from `finish_run`'s result)."""
    if not enabled():
        return
    attrs = {"status": summary.get("status") or "unknown", "mode": mode or "unknown"}
    _state["runs_finished"].add(1, attrs)
    if summary.get("durationSeconds") is not None:
        _state["run_duration"].record(float(summary["durationSeconds"]), attrs)
    for alert in summary.get("alerts") or []:
        if alert.get("type") in ("Fired", "Escalated"):
            _state["alerts_fired"].add(1, {"kind": alert.get("kind") or "unknown",
                                           "severity": alert.get("severity") or "unknown"})
