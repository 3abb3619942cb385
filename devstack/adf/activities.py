"""Leaf activities the emulator executes: Custom (the Azure Batch way), Wait, WebActivity
and Fail.

Each handler gets the activity definition with its expressions already evaluated and an
`Attempt` (cancel flag, deadline, a hook to record the process id) and returns the
activity's output, or raises `ActivityFailed`. Control-flow activities (SetVariable,
IfCondition, Until) live in the engine because they touch the run itself.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

log = logging.getLogger("devstack.adf")

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
STDERR_TAIL_CHARS = 2000


class ActivityFailed(Exception):
    """The activity failed; `message` becomes its error (and the run's, if it decides it)."""

    def __init__(self, message: str, code: str = "UserError", failure_type: str = "UserError"):
        super().__init__(message)
        self.message, self.code, self.failure_type = message, code, failure_type


class ActivityCancelled(Exception):
    """The run was cancelled while the activity ran."""


@dataclass
class Attempt:
    """One try of one activity: what it may observe and report while it runs."""

    activity_run_id: str
    cancel: threading.Event
    deadline: float  # time.monotonic() after which the policy timeout has passed
    timeout_text: str
    record_process: Callable[[int, int | None], None] = lambda pid, start: None
    extra: dict = field(default_factory=dict)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check(self) -> None:
        if self.cancel.is_set():
            raise ActivityCancelled()
        if self.remaining() <= 0:
            raise ActivityFailed(
                f"Activity timed out after its policy timeout of {self.timeout_text}",
                code="ActivityTimedOut", failure_type="UserError",
            )

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`, waking for cancel and the policy timeout."""
        end = time.monotonic() + seconds
        while True:
            self.check()
            left = end - time.monotonic()
            if left <= 0:
                return
            self.cancel.wait(min(left, 0.2))


# --- Wait --------------------------------------------------------------------------------


def run_wait(definition: dict, attempt: Attempt) -> dict:
    seconds = definition.get("typeProperties", {}).get("waitTimeInSeconds", 0)
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        raise ActivityFailed(f"waitTimeInSeconds must be a number, got {seconds!r}") from None
    attempt.sleep(seconds)
    return {}


# --- Fail --------------------------------------------------------------------------------


def run_fail(definition: dict, attempt: Attempt) -> dict:
    """ADF's Fail activity: fails with its own message and error code, always."""
    tp = definition.get("typeProperties", {})
    raise ActivityFailed(str(tp.get("message") or "Fail activity"),
                         code=str(tp.get("errorCode") or "UserError"))


# --- WebActivity -------------------------------------------------------------------------

# The emulator's stand-in for the factory's managed identity (its object id in tokens).
EMULATOR_IDENTITY = "adf-emulator-managed-identity"


def managed_identity_token(resource: str) -> str:
    """An unsigned JWT for `resource`, shaped like the token Data Factory's managed identity
    gets from Entra ID (`aud` = the resource): local stand-ins check its audience."""
    import base64

    def part(doc: dict) -> str:
        raw = json.dumps(doc, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"aud": resource, "oid": EMULATOR_IDENTITY, "iss": "devstack-adf-emulator",
              "iat": now, "exp": now + 3600}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _auth_headers(auth: dict | None, name: str) -> dict:
    """Headers for a Web activity's `authentication`; only managed identity is emulated."""
    if not auth:
        return {}
    kind = str(auth.get("type", ""))
    if kind.upper() not in ("MSI", "SYSTEMASSIGNEDMANAGEDIDENTITY"):
        raise ActivityFailed(f"WebActivity '{name}': authentication type {kind!r} is not "
                             "supported by the local emulator (use MSI)")
    resource = auth.get("resource")
    if not resource:
        raise ActivityFailed(f"WebActivity '{name}': MSI authentication needs a resource")
    return {"Authorization": f"Bearer {managed_identity_token(str(resource))}"}


def run_web(definition: dict, attempt: Attempt) -> dict:
    """Call `url` (loopback only) and return the response body as the activity's output,
    with `ADFWebActivityResponseHeaders`, as Data Factory does; 4xx/5xx fail the activity."""
    import requests

    tp = definition.get("typeProperties", {})
    url, method = tp.get("url"), str(tp.get("method", "GET")).upper()
    host = urlparse(str(url)).hostname
    if host not in LOOPBACK_HOSTS:
        raise ActivityFailed(
            f"WebActivity url {url!r} is not a loopback address; the local emulator only "
            "calls 127.0.0.1/localhost"
        )
    body = tp.get("body")
    data = body if isinstance(body, str) or body is None else json.dumps(body)
    headers = {"Content-Type": "application/json", **(tp.get("headers") or {}),
               **_auth_headers(tp.get("authentication"), definition.get("name", "?"))}
    try:
        resp = requests.request(
            method, url, data=data, headers=headers,
            timeout=max(1.0, min(attempt.remaining(), 60.0)),
        )
    except requests.RequestException as exc:
        raise ActivityFailed(f"WebActivity call to {url} failed: {exc}") from None
    attempt.check()
    try:
        output = resp.json() if resp.content else {}
    except ValueError:
        output = {"Response": resp.text}
    if not isinstance(output, dict):
        output = {"Response": output}
    output["ADFWebActivityResponseHeaders"] = dict(resp.headers)
    if resp.status_code >= 400:
        raise ActivityFailed(
            f"WebActivity call to {url} returned {resp.status_code}: {resp.text[:500]}",
            code=str(resp.status_code),
        )
    return output


# --- Custom (Azure Batch) ----------------------------------------------------------------


@dataclass
class BatchHost:
    """Where Custom activities run: local folders instead of Batch nodes, the emulator's
    storage instead of the linked storage account."""

    work_root: Path
    storage_connection_string: str
    blob_service: object  # azure.storage.blob.BlobServiceClient


def _process_start_ticks(pid: int) -> int | None:
    """Start time of `pid` (from /proc) so a later kill does not hit a reused pid."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def kill_process_group(pid: int, start_ticks: int | None) -> bool:
    """Kill the process group led by `pid` if that is still the process we started."""
    if start_ticks is not None and _process_start_ticks(pid) != start_ticks:
        return False
    try:
        os.killpg(pid, signal.SIGKILL)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _download_folder(host: BatchHost, folder_path: str, dest: Path) -> int:
    container, _, prefix = folder_path.strip("/").partition("/")
    if not container:
        raise ActivityFailed("Custom activity folderPath is empty")
    client = host.blob_service.get_container_client(container)
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    count = 0
    try:
        for blob in client.list_blobs(name_starts_with=prefix):
            rel = blob.name[len(prefix):]
            if not rel or rel.endswith("/"):
                continue
            target = (dest / rel).resolve()
            if dest.resolve() not in target.parents:
                raise ActivityFailed(f"blob {blob.name!r} would land outside the working folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                client.download_blob(blob.name).readinto(fh)
            count += 1
    except ActivityFailed:
        raise
    except Exception as exc:  # storage errors: container missing, unreachable...
        raise ActivityFailed(
            f"could not download folderPath '{folder_path}': {type(exc).__name__}: {exc}",
            failure_type="SystemError",
        ) from None
    if count == 0:
        raise ActivityFailed(f"folderPath '{folder_path}' holds no files in the linked storage")
    return count


def _upload_logs(host: BatchHost, activity_run_id: str, files: dict[str, Path]) -> list[str]:
    from azure.core.exceptions import ResourceExistsError

    client = host.blob_service.get_container_client("adfjobs")
    try:
        client.create_container()
    except ResourceExistsError:
        pass
    urls = []
    for name, path in files.items():
        blob = client.get_blob_client(f"{activity_run_id}/{name}")
        with open(path, "rb") as fh:
            blob.upload_blob(fh, overwrite=True)
        urls.append(blob.url)
    return urls


def _tail(path: Path, chars: int = STDERR_TAIL_CHARS) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - chars))
            return fh.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


def run_custom(
    definition: dict, attempt: Attempt, host: BatchHost,
    linked_services: list[dict], datasets: list[dict],
) -> dict:
    """Run a Custom activity as Azure Batch would, on this machine.

    A fresh folder gets the files under `folderPath` (sub-folders kept, so a code package
    with a `training/` package works), plus `activity.json` (the activity definition with
    its expressions evaluated: `typeProperties.extendedProperties` is what programs read),
    `linkedServices.json` and `datasets.json` (the `referenceObjects`). `command` runs
    through `/bin/sh` in that folder with the emulator's Python first on PATH and
    STORAGE_CONNECTION_STRING set. stdout/stderr go to `adfjobs/<activityRunId>/output/`;
    the folder is removed once the command's result is read (the disk stays bounded).
    """
    tp = definition.get("typeProperties", {})
    command = tp.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ActivityFailed("Custom activity has no command")
    task_dir = host.work_root / attempt.activity_run_id
    wd = task_dir / "wd"
    if task_dir.exists():
        shutil.rmtree(task_dir)
    wd.mkdir(parents=True)
    if tp.get("folderPath"):
        _download_folder(host, str(tp["folderPath"]), wd)
    runtime = {
        "activity.json": definition, "linkedServices.json": linked_services,
        "datasets.json": datasets,
    }
    for name, content in runtime.items():
        (wd / name).write_text(json.dumps(content, indent=2))
    stdout_path, stderr_path = task_dir / "stdout.txt", task_dir / "stderr.txt"
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        "STORAGE_CONNECTION_STRING": host.storage_connection_string,
        "AZ_BATCH_TASK_WORKING_DIR": str(wd),
        "AZ_BATCH_TASK_ID": attempt.activity_run_id,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PYTHONPATH", None)  # the downloaded code, not the emulator's checkout
    attempt.check()
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command], cwd=wd, env=env, stdout=out, stderr=err,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    ticks = _process_start_ticks(proc.pid)
    attempt.record_process(proc.pid, ticks)
    log.info("activity run %s: started pid %s: %s", attempt.activity_run_id, proc.pid, command)
    try:
        while proc.poll() is None:
            try:
                attempt.check()
            except (ActivityCancelled, ActivityFailed):
                kill_process_group(proc.pid, ticks)
                proc.wait()
                raise
            attempt.cancel.wait(0.1)
        kill_process_group(proc.pid, ticks)  # leftovers the command started in background
    finally:
        attempt.record_process(0, None)
        _save_logs(host, attempt.activity_run_id, stdout_path, stderr_path, wd, attempt)
    try:
        return _result(proc.returncode, stderr_path, wd, attempt)
    finally:  # its logs are in storage (adfjobs/): the folder would only fill the disk
        shutil.rmtree(task_dir, ignore_errors=True)


def _result(code: int, stderr_path: Path, wd: Path, attempt: Attempt) -> dict:
    if code != 0:
        tail = _tail(stderr_path) or "(stderr is empty)"
        raise ActivityFailed(f"Command exited with code {code}. stderr (tail): {tail}")
    output = {"exitcode": 0, "outputs": attempt.extra.get("logUrls", [])}
    outputs_file = wd / "outputs.json"
    if outputs_file.exists():
        try:
            output["customOutput"] = json.loads(outputs_file.read_text() or "{}")
        except ValueError as exc:
            raise ActivityFailed(f"outputs.json written by the command is not JSON: {exc}") from None
    output["effectiveIntegrationRuntime"] = "DefaultIntegrationRuntime (local emulator)"
    return output


def _save_logs(host: BatchHost, run_id: str, stdout: Path, stderr: Path, wd: Path,
               attempt: Attempt) -> None:
    files = {"output/stdout.txt": stdout, "output/stderr.txt": stderr}
    files |= {f"runtime/{n}": wd / n for n in ("activity.json", "linkedServices.json",
                                                 "datasets.json")}
    try:
        urls = _upload_logs(host, run_id, files)
        attempt.extra["logUrls"] = urls[:2]
    except Exception as exc:  # logs are best effort; the run outcome does not depend on them
        log.warning("activity run %s: could not upload logs: %s", run_id, exc)
