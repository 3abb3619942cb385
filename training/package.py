"""`python -m training.package`: upload this folder as a versioned code package.

The version is content-derived (first 12 hex digits of a SHA-256 over every file's path and
bytes), so the same code always gets the same version and re-running is idempotent. Files go
to `<mlContainer>/code/<version>/training.zip`, where the Custom activities' `folderPath`
(`<mlContainer>/code/<codeVersion>`) points. One zip because Azure Batch flattens
sub-folders of `folderPath` when it copies them to the node: the commands unpack it first,
`python -m zipfile -e training.zip . && python -m training.<program>` (stdlib only, any
shell), and `training/` is then a package in the task's working directory.
`package.json` in the version folder is written last (a complete upload) and
`<mlContainer>/code/current.json` = `{"version", "uploadedAt"}` names the newest one.
Prints the version on stdout.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE_DIR = HERE.name  # "training"
INCLUDE_SUFFIXES = (".py", ".txt")
PROGRAMS = ("preprocess", "train", "score",
            "diabetes.preprocess", "diabetes.train", "diabetes.score")  # the example regression feed
log = logging.getLogger("training.package")


ZIP_NAME = "training.zip"
UNPACK = f"python -m zipfile -e {ZIP_NAME} ."


def command_for(program: str) -> str:
    """The Custom activity command that runs `program` from the downloaded package."""
    return f"{UNPACK} && python -m {PACKAGE_DIR}.{program}"


def _zip(files: tuple[tuple[str, bytes], ...]) -> bytes:
    """A byte-for-byte reproducible zip (fixed timestamps, sorted names)."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


@dataclass(frozen=True)
class Package:
    version: str
    files: tuple[tuple[str, bytes], ...]  # (path inside the zip, bytes)

    @property
    def uploads(self) -> tuple[tuple[str, bytes], ...]:
        """What goes to `code/<version>/`: the zip alone (flattening cannot break it)."""
        return ((ZIP_NAME, _zip(self.files)),)

    def manifest(self) -> dict:
        return {"version": self.version, "files": [
            {"name": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in self.files
        ]}


def build_package(root: Path = HERE) -> Package:
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or path.suffix not in INCLUDE_SUFFIXES:
            continue
        if any(part.startswith((".", "__pycache__")) or part == "tests" for part in rel.parts):
            continue
        files.append((f"{PACKAGE_DIR}/{rel.as_posix()}", path.read_bytes()))
    h = hashlib.sha256()
    for name, data in files:
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return Package(h.hexdigest()[:12], tuple(files))


def upload_package(service, ml_container: str, package: Package | None = None) -> str:
    """Upload (unless this exact version is already complete) and point current.json at it."""
    import json

    from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

    package = package or build_package()
    client = service.get_container_client(ml_container)
    try:
        client.create_container()
    except ResourceExistsError:
        pass
    folder = f"code/{package.version}/"
    manifest = package.manifest()
    try:
        existing = json.loads(client.get_blob_client(folder + "package.json").download_blob().readall())
    except ResourceNotFoundError:
        existing = None
    if existing and existing.get("files") == manifest["files"]:
        log.info("code %s is already uploaded", package.version)
    else:
        for name, data in package.uploads:
            client.upload_blob(folder + name, data, overwrite=True)
        doc = {**manifest, "createdAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        client.upload_blob(folder + "package.json", json.dumps(doc, indent=2), overwrite=True)
        log.info("uploaded %d files (zipped) to %s/%s", len(package.files), ml_container, folder)
    try:
        current = json.loads(client.get_blob_client("code/current.json").download_blob().readall())
    except ResourceNotFoundError:
        current = {}
    if current.get("version") != package.version:
        pointer = {"version": package.version,
                   "uploadedAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        client.upload_blob("code/current.json", json.dumps(pointer), overwrite=True)
    return package.version


def main(argv: list[str] | None = None) -> int:
    from training.activity import CONTAINER_NAME, configure_logging
    from training.blobs import service_client

    configure_logging()
    p = argparse.ArgumentParser(prog="python -m training.package", description=__doc__.splitlines()[0])
    p.add_argument("--ml-container", default=os.environ.get("ML_CONTAINER", "ml-data"))
    p.add_argument("--storage-connection-string", default=None)
    p.add_argument("--storage-account-url", default=None)
    p.add_argument("--dry-run", action="store_true", help="print the version, upload nothing")
    a = p.parse_args(argv)
    package = build_package()
    if a.dry_run:
        print(package.version)
        return 0
    if not CONTAINER_NAME.fullmatch(a.ml_container):
        p.error(f"--ml-container {a.ml_container!r} is not a valid container name (3-63 characters)")
    service = service_client(
        a.storage_connection_string or os.environ.get("STORAGE_CONNECTION_STRING"),
        a.storage_account_url or os.environ.get("STORAGE_ACCOUNT_URL"),
        os.environ.get("AZURE_CLIENT_ID"),
    )
    print(upload_package(service, a.ml_container, package))
    return 0


if __name__ == "__main__":
    sys.exit(main())
