"""The local stack for the glue benchmarks: the app as deployed, with the score-only
pipeline swapped for a one-second Wait so that what is measured is the glue, not TensorFlow."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from devstack.stack import LocalStack

NOOP = {"name": "bench_noop", "properties": {
    "parameters": {p: {"type": "string", "defaultValue": ""} for p in
                   ("batchId", "manifestPath", "codeVersion", "mode", "mlContainer",
                    "trainOptions")},
    "activities": [{"name": "Score", "type": "Wait", "dependsOn": [],
                    "typeProperties": {"waitTimeInSeconds": 1}}]}}


def start(root: Path, overrides: dict[str, str], wait_seconds: float = 1) -> LocalStack:
    """The stack with the score-only pipeline a Wait of `wait_seconds`."""
    stack = LocalStack(root, overrides={
        "ADF_SCORE_PIPELINE": "bench_noop", "LANDING_QUIET_SECONDS": "0",
        "POLL_INTERVAL_SECONDS": "1", "SWEEP_SCHEDULE": "0 0 0 1 1 *",
        "FRESHNESS_INTERVAL_SECONDS": "3600", **overrides})
    stack.start()
    try:
        deploy_wait(stack, wait_seconds)
    except Exception:
        stack.stop()
        raise
    return stack


def deploy_wait(stack: LocalStack, wait_seconds: float) -> None:
    """(Re)deploy the score-only pipeline as a Wait of `wait_seconds`; runs started after
    it use the new length."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "pipeline").mkdir()
        noop = json.loads(json.dumps(NOOP))
        noop["properties"]["activities"][0]["typeProperties"]["waitTimeInSeconds"] = \
            wait_seconds
        (Path(tmp) / "pipeline" / "bench_noop.json").write_text(json.dumps(noop))
        services(stack).adf.deploy(Path(tmp))


def services(stack: LocalStack):
    """The app's services for this stack's settings (what the app under the host uses)."""
    from shared.services import services_for
    from shared.settings import load_settings

    return services_for(load_settings(stack.settings()))


def upload(stack: LocalStack, name: str, data: bytes = b"id,p0\n1,2\n") -> None:
    services(stack).landing.upload_blob(name, data, overwrite=True)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
