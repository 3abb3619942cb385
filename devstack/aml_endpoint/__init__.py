"""A local stand-in for an Azure Machine Learning batch endpoint, for the Data Factory
emulator's Web activities (pipeline `score_batch_endpoint`).

The contract it speaks (the batch endpoint's data-plane REST API, as the pipeline uses it):

    POST <endpoint>/jobs?api-version=V        invoke: body {"properties": {"InputData":
                                              {<name>: {"JobInputType": "UriFolder", "Uri"}},
                                              "OutputData": {<name>: {"JobOutputType":
                                              "UriFile", "Uri"}}}} -> 200, the job resource
    GET  <endpoint>/jobs/<job name>?api-version=V   -> the job resource

A job resource is {"id", "name", "type", "properties": {"status": NotStarted | Running |
Completed | Failed, "error": {"code", "message"} or null, "inputData", "outputData",
"startTime", "endTime"}}. Every call needs `Authorization: Bearer <token>` whose audience
is https://ml.azure.com (as Data Factory's managed identity sends it); otherwise 401. Bad
bodies get 400 naming the field. URIs are `azureml://datastores/<name>/paths/<path>`; the
stand-in maps datastore names to containers of the local storage (Azurite).

Each job runs in its own process (`devstack.aml_endpoint.job`): the deployment's scoring
script (`training.aml_score`) over the input folder's files in mini-batches, the output
file written once; the job fails, as the service's does, when the output file exists.
Locally the deployment serves whatever `models/champion.json` points at (as if every
promotion had been released). Jobs live in memory: a restarted stand-in forgets them.
"""
from __future__ import annotations

import base64
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from devstack.loopback import QuietHandler, serve, shut
from devstack.ports import free_port

log = logging.getLogger("devstack.aml_endpoint")
ROOT = Path(__file__).resolve().parents[2]
AUDIENCE = "https://ml.azure.com"
MAX_BODY = 1024 * 1024


class Refused(Exception):
    """A request the service refuses: HTTP status, error code, message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def token_audience(header: str | None) -> str | None:
    """The `aud` claim of a bearer JWT (not verified: the stand-in trusts loopback)."""
    scheme, _, token = str(header or "").partition(" ")
    if scheme.lower() != "bearer" or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    return claims.get("aud") if isinstance(claims, dict) else None


def check_token(header: str | None) -> None:
    aud = token_audience(header)
    if aud is None:
        raise Refused(401, "Unauthorized", "a bearer token is required")
    if str(aud).rstrip("/") != AUDIENCE:
        raise Refused(401, "InvalidAudience", f"token audience {aud!r} is not {AUDIENCE}")


def _single(mapping, what: str, type_key: str, expected: str) -> dict:
    if not isinstance(mapping, dict) or len(mapping) != 1:
        raise Refused(400, "BadRequest", f"properties.{what}: expected exactly one entry")
    (name, spec), = mapping.items()
    if not isinstance(spec, dict) or spec.get(type_key) != expected or not spec.get("Uri"):
        raise Refused(400, "BadRequest",
                      f"properties.{what}.{name}: expected {type_key} {expected} and a Uri")
    return {"name": name, "uri": str(spec["Uri"])}


def parse_invoke(body: bytes) -> tuple[dict, dict]:
    """(input, output) of an invoke body; Refused(400) naming what is wrong."""
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        raise Refused(400, "BadRequest", "body: not JSON") from None
    props = doc.get("properties") if isinstance(doc, dict) else None
    if not isinstance(props, dict):
        raise Refused(400, "BadRequest", "body: expected {\"properties\": {...}}")
    return (_single(props.get("InputData"), "InputData", "JobInputType", "UriFolder"),
            _single(props.get("OutputData"), "OutputData", "JobOutputType", "UriFile"))


def resolve_uri(uri: str, datastores: dict[str, str]) -> tuple[str, str]:
    """(container, path) of `azureml://datastores/<name>/paths/<path>`."""
    parsed = urlparse(uri)
    parts = parsed.path.lstrip("/").split("/", 2)
    if (parsed.scheme != "azureml" or parsed.netloc != "datastores" or len(parts) < 3
            or parts[1] != "paths"):
        raise Refused(400, "BadRequest",
                      f"{uri!r}: expected azureml://datastores/<name>/paths/<path>")
    if parts[0] not in datastores:
        raise Refused(400, "DatastoreNotFound", f"datastore {parts[0]!r} does not exist")
    return datastores[parts[0]], parts[2]


@dataclass
class Job:
    name: str
    input: dict
    output: dict
    status: str = "NotStarted"
    error: dict | None = None
    start: str | None = None
    end: str | None = None
    spec_dir: Path | None = field(default=None, repr=False)

    def resource(self) -> dict:
        return {
            "id": f"/jobs/{self.name}", "name": self.name,
            "type": "Microsoft.MachineLearningServices/workspaces/jobs",
            "properties": {
                "status": self.status, "error": self.error,
                "inputData": {self.input["name"]: {"jobInputType": "UriFolder",
                                                   "uri": self.input["uri"]}},
                "outputData": {self.output["name"]: {"jobOutputType": "UriFile",
                                                     "uri": self.output["uri"]}},
                "startTime": self.start, "endTime": self.end,
            },
        }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class BatchEndpointStandIn:
    """The stand-in's HTTP server (in this process) and its jobs (each a subprocess)."""

    def __init__(self, storage_connection_string: str, datastores: dict[str, str],
                 model_container: str, port: int | None = None, mini_batch_size: int = 2):
        self.conn = storage_connection_string
        self.datastores, self.model_container = dict(datastores), model_container
        self.mini_batch_size = mini_batch_size
        self.port = port or free_port()
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._work = Path(tempfile.mkdtemp(prefix="aml-endpoint-"))

    @property
    def endpoint_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/jobs"

    # --- the contract ---------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict]:
        try:
            check_token(headers.get("authorization"))
            url = urlparse(path)
            if not parse_qs(url.query).get("api-version"):
                raise Refused(400, "BadRequest", "api-version: required query parameter")
            parts = [p for p in url.path.split("/") if p]
            if method == "POST" and parts == ["jobs"]:
                return 200, self.invoke(body).resource()
            if method == "GET" and len(parts) == 2 and parts[0] == "jobs":
                with self._lock:
                    job = self.jobs.get(parts[1])
                if job is None:
                    raise Refused(404, "NotFound", f"job {parts[1]!r} does not exist")
                return 200, job.resource()
            raise Refused(404, "NotFound", f"{method} {url.path}: no such operation")
        except Refused as exc:
            return exc.status, {"error": {"code": exc.code, "message": exc.message}}

    def invoke(self, body: bytes) -> Job:
        source, target = parse_invoke(body)
        resolve_uri(source["uri"], self.datastores)  # refused now if unresolvable
        resolve_uri(target["uri"], self.datastores)
        job = Job(name=f"batchjob-{uuid.uuid4()}", input=source, output=target)
        with self._lock:
            self.jobs[job.name] = job
        threading.Thread(target=self._run, args=(job,), daemon=True).start()
        log.info("job %s: %s -> %s", job.name, source["uri"], target["uri"])
        return job

    def _run(self, job: Job) -> None:
        work = self._work / job.name
        work.mkdir(parents=True)
        in_container, in_path = resolve_uri(job.input["uri"], self.datastores)
        out_container, out_path = resolve_uri(job.output["uri"], self.datastores)
        spec = {"connectionString": self.conn, "input": [in_container, in_path],
                "output": [out_container, out_path], "modelContainer": self.model_container,
                "miniBatchSize": self.mini_batch_size, "workDir": str(work)}
        (work / "spec.json").write_text(json.dumps(spec))
        job.status, job.start = "Running", _now()
        with open(work / "job.log", "wb") as out:
            code = subprocess.call([sys.executable, "-m", "devstack.aml_endpoint.job",
                                    str(work / "spec.json")], cwd=ROOT, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        result_file = work / "result.json"
        result = json.loads(result_file.read_text()) if result_file.exists() else {}
        with self._lock:
            job.end = _now()
            if code == 0 and result.get("status") == "Completed":
                job.status = "Completed"
            else:
                job.status = "Failed"
                job.error = result.get("error") or {
                    "code": "UserError", "message": f"the job's process exited with {code}: "
                    + (work / "job.log").read_text(errors="replace")[-500:]}
        log.info("job %s: %s", job.name, job.status)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> BatchEndpointStandIn:
        standin = self

        class Handler(QuietHandler):
            def _serve(self, method: str) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(size, MAX_BODY))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, doc = standin.handle(method, self.path, headers, body)
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802 (http.server's naming)
                self._serve("GET")

            def do_POST(self):  # noqa: N802
                self._serve("POST")

        self._server = serve(self.port, Handler)
        return self

    def stop(self) -> None:
        shut(self._server)
        self._server = None
        shutil.rmtree(self._work, ignore_errors=True)  # jobs' folders: nothing reads them after
