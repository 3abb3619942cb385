"""One batch endpoint job of the local stand-in, in its own process (as the service runs
jobs on its own compute): `python -m devstack.aml_endpoint.job <spec.json>`.

Refuses an output file that exists (before any work, as the service does), downloads the
input folder and the model the deployment serves (the champion), calls the scoring
script's `init()` once and `run(mini_batch)` per `miniBatchSize` files, and writes the
lines it returned to the output file (create-only). Writes `result.json` beside the spec:
{"status": "Completed"} or {"status": "Failed", "error": {"code", "message"}}.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path


class JobFailed(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _download(container, prefix: str, dest: Path) -> list[Path]:
    prefix = prefix.rstrip("/") + "/"
    files = []
    for blob in container.list_blobs(name_starts_with=prefix):
        target = dest / blob.name[len(prefix):].replace("/", "__")
        target.write_bytes(container.download_blob(blob.name).readall())
        files.append(target)
    if not files:
        raise JobFailed("UserError", f"the input folder {container.container_name}/{prefix} "
                                     "holds no files")
    return sorted(files)


def _model(service, container: str, dest: Path) -> Path:
    from azure.core.exceptions import ResourceNotFoundError

    client = service.get_container_client(container)
    try:
        pointer = json.loads(client.download_blob("models/champion.json").readall())
    except ResourceNotFoundError:
        raise JobFailed("ModelNotFound", "the deployment has no model: no champion "
                                         "registered yet") from None
    path = pointer.get("modelPath") or f"{container}/models/{pointer['version']}/model.keras"
    src_container, _, name = path.partition("/")
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "model.keras"
    target.write_bytes(service.get_container_client(src_container).download_blob(name).readall())
    return dest


def run_job(spec: dict) -> None:
    from azure.storage.blob import BlobServiceClient

    from training import aml_score

    service = BlobServiceClient.from_connection_string(spec["connectionString"])
    out_container, out_name = spec["output"]
    output = service.get_blob_client(out_container, out_name)
    if output.exists():
        raise JobFailed("UserError", f"Output file {out_container}/{out_name} already exists: "
                                     "give the job an output path that does not exist")
    work = Path(spec["workDir"])
    inputs = work / "inputs"
    inputs.mkdir()
    in_container, in_prefix = spec["input"]
    files = _download(service.get_container_client(in_container), in_prefix, inputs)
    os.environ["AZUREML_MODEL_DIR"] = str(_model(service, spec["modelContainer"],
                                                 work / "model"))
    aml_score.init()
    size = max(1, int(spec.get("miniBatchSize") or 1))
    lines: list[str] = []
    for i in range(0, len(files), size):
        lines.extend(aml_score.run([str(f) for f in files[i:i + size]]))
    data = "".join(line + "\n" for line in lines).encode()
    output.upload_blob(data, overwrite=False)  # create-only, like the service's output


def main(argv: list[str]) -> int:
    spec_file = Path(argv[0])
    try:
        run_job(json.loads(spec_file.read_text()))
        result = {"status": "Completed"}
    except JobFailed as exc:
        result = {"status": "Failed", "error": {"code": exc.code, "message": exc.message}}
    except Exception as exc:  # the scoring script's own failure is the job's error
        result = {"status": "Failed", "error": {"code": "UserError",
                                                "message": f"{type(exc).__name__}: {exc}"}}
    (spec_file.parent / "result.json").write_text(json.dumps(result))
    return 0 if result["status"] == "Completed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
