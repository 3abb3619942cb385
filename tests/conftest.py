"""Shared fixtures: a real Azurite per test session, and per-test settings that point the
app at fresh containers in it."""
from __future__ import annotations

import logging
import os
import uuid

import pytest

from devstack.azurite import Azurite


def pytest_configure(config):
    """Under pytest-xdist (`make test` runs two workers), each worker and everything it starts
    takes loopback ports from its own slice of devstack's range."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):
        from devstack.ports import RANGE

        count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        size = (RANGE[1] - RANGE[0]) // count
        low = RANGE[0] + int(worker[2:]) * size
        os.environ["DEVSTACK_PORT_RANGE"] = f"{low}-{low + size}"


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """A real Azurite on free loopback ports, data in a temporary folder."""
    az = Azurite(tmp_path_factory.mktemp("azurite")).start()
    yield az
    az.stop()


@pytest.fixture
def settings_env(monkeypatch):
    """The environment of a test that changes settings (restored after it). Settings and
    clients follow the environment by themselves: nothing to reset."""
    return monkeypatch


@pytest.fixture
def app_env(azurite, settings_env):
    """Settings for the app against Azurite, with containers unique to this test."""
    suffix = uuid.uuid4().hex[:8]
    env = {
        "STORAGE_CONNECTION_STRING": azurite.connection_string,
        "LANDING_CONTAINER": f"landing-{suffix}",
        "STATE_CONTAINER": f"state-{suffix}",
        "ML_CONTAINER": f"ml-{suffix}",
        "LANDING_QUIET_SECONDS": "0",
    }
    for k, v in env.items():
        settings_env.setenv(k, v)
    return env


@pytest.fixture
def exporters():
    """OpenTelemetry's in-memory exporters wired into `shared.telemetry`: (spans, logs,
    metrics); the telemetry state is reset after."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from shared import telemetry

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
