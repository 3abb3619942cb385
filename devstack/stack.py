"""The whole local stack in one object: Azurite, the Data Factory emulator, the alert
receiver, the Azure ML batch endpoint stand-in and the Functions host stand-in with the app,
wired together by generated settings.

Used by `make up`, the demo and the end-to-end tests. Every part can be stopped, killed and
restarted on its own (the fault tests do that); state lives under `root`.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from devstack.azurite import ROOT, Azurite
from devstack.ports import free_port
from devstack.receiver import AlertReceiver

log = logging.getLogger(__name__)
EXAMPLE_SETTINGS = ROOT / "local.settings.example.json"
DATASTORE = "mldata"  # the stand-in's Azure ML datastore on ML_CONTAINER


def example_values() -> dict[str, str]:
    return dict(json.loads(EXAMPLE_SETTINGS.read_text())["Values"])


@dataclass
class LocalStack:
    root: Path
    overrides: dict[str, str] = field(default_factory=dict)
    fixed_ports: bool = False  # the documented default ports (make up) instead of free ones
    host_port: int | None = None
    webhook_secret: str = "local-demo-signing-secret"
    base_settings: dict[str, str] | None = None  # default: local.settings.example.json

    def __post_init__(self):
        self.root = Path(self.root)
        ports = (10000, 10001, 10002) if self.fixed_ports else (free_port(), free_port(), free_port())
        self.azurite = Azurite(self.root / "azurite", *ports)
        self.emulator_port = 7443 if self.fixed_ports else free_port()
        self.host_port = self.host_port or (7071 if self.fixed_ports else free_port())
        self.receiver = AlertReceiver(self.webhook_secret)
        self.endpoint = None  # the batch endpoint stand-in, once started
        self.emulator = None
        self.host = None

    # --- settings -------------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        """The app's settings for this stack: the example values, pointed at our services."""
        values = dict(self.base_settings or example_values())
        conn = self.azurite.connection_string
        values.update({
            "AzureWebJobsStorage": conn,
            "STORAGE_CONNECTION_STRING": conn,
            "ADF_ENDPOINT": self.emulator.endpoint if self.emulator else values.get("ADF_ENDPOINT", ""),
            "ADF_CA_BUNDLE": str(self.emulator.ca_file) if self.emulator else values.get("ADF_CA_BUNDLE", ""),
            "ALERT_WEBHOOK_URLS": self.receiver.url,
            "ALERT_WEBHOOK_SECRET": self.webhook_secret,
            "DEVSTACK_EVENTGRID_WATCH": f"{values.get('LANDING_CONTAINER', 'landing')}=on_blob_created",
            "DEVSTACK_EVENTGRID_JOURNAL": str(self.azurite.journal),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.host_port}",
        })
        if self.endpoint is not None:  # configured, used when SCORE_TARGET or a run says so
            values.update({"AML_ENDPOINT_URI": self.endpoint.endpoint_uri,
                           "AML_DATASTORE_URI": f"azureml://datastores/{DATASTORE}/paths",
                           "AML_POLL_INTERVAL_SECONDS": "2"})
        values.update(self.overrides)
        # Blank example values are left out; a blank override is kept, so that it also
        # overrides what the host would otherwise inherit from this process's environment.
        return {k: v for k, v in values.items() if v != "" or k in self.overrides}

    def apply_to_environment(self) -> None:
        """Point this process's app code (shared.*) at the stack, e.g. for a test's asserts."""
        os.environ.update(self.settings())  # settings and clients follow the environment

    # --- lifecycle ------------------------------------------------------------------
    def start_azurite(self) -> None:
        self.azurite.start()

    def start_emulator(self) -> None:
        from devstack.adf import EmulatorProcess

        self.emulator = EmulatorProcess(self.root / "adf", self.azurite.connection_string,
                                        port=self.emulator_port)
        self.emulator.start()

    def start_endpoint(self) -> None:
        from devstack.aml_endpoint import BatchEndpointStandIn

        ml = {**(self.base_settings or example_values()), **self.overrides}.get(
            "ML_CONTAINER") or "ml-data"
        self.endpoint = BatchEndpointStandIn(self.azurite.connection_string, {DATASTORE: ml},
                                             model_container=ml).start()

    def deploy(self) -> dict:
        """Deploy adf/ to the emulator and upload the training code (as a release would)."""
        from shared.services import get_services
        from shared.storage import blob_service
        from training.package import upload_package

        self.apply_to_environment()
        services = get_services()
        deployed = services.adf.deploy(self._definitions())
        version = upload_package(blob_service(services.settings), services.settings.ml_container)
        return {"deployed": deployed, "codeVersion": version}

    def _definitions(self) -> Path:
        """adf/ as committed, or, when DEVSTACK_ADF_RETRY_INTERVAL_SECONDS is set (the
        tests' fast clocks), a copy whose activity retry intervals are capped at it: a
        failing activity is still retried as its policy says, without ADF's 30 s waits."""
        cap = self.settings().get("DEVSTACK_ADF_RETRY_INTERVAL_SECONDS")
        if not cap:
            return ROOT / "adf"
        copy = self.root / "adf-definitions"
        for path in (ROOT / "adf").rglob("*.json"):
            target = copy / path.relative_to(ROOT / "adf")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(_cap_retry_intervals(json.loads(path.read_text()),
                                                               int(cap)), indent=1))
        return copy

    def start_host(self) -> None:
        from devstack.host import HostProcess

        settings_file = self.root / "local.settings.json"
        settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": self.settings()},
                                            indent=2))
        self.host = HostProcess(settings_file, port=self.host_port, cwd=ROOT,
                                state_dir=self.root / "host")
        self.host.start()

    def start(self) -> LocalStack:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self.receiver.start()
            self.start_azurite()
            self.start_emulator()
            self.start_endpoint()
            self.deploy()
            self.start_host()
        except BaseException:  # a half-started stack must not leave processes behind
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for part in (self.host, self.emulator):
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:  # keep stopping the rest
                    log.warning("stopping %s: %s", type(part).__name__, exc)
        if self.endpoint is not None:
            self.endpoint.stop()
        self.azurite.stop()
        self.receiver.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _cap_retry_intervals(node, cap: int):
    """The definition with every `retryIntervalInSeconds` at most `cap`."""
    if isinstance(node, dict):
        return {k: (min(v, cap) if k == "retryIntervalInSeconds" and isinstance(v, int | float)
                    else _cap_retry_intervals(v, cap)) for k, v in node.items()}
    if isinstance(node, list):
        return [_cap_retry_intervals(v, cap) for v in node]
    return node
