"""The code package: content-derived version, idempotent upload to code/<version>/, and a
folder that runs the programs once downloaded the way Batch does."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from training.package import HERE, build_package, command_for, upload_package


def test_upload_is_versioned_by_content_and_idempotent(ml_env, tmp_path):
    service = ml_env.store.service
    version = upload_package(service, ml_env.ml)
    assert version == build_package().version and len(version) == 12
    names = ml_env.store.list_names(ml_env.ml, f"code/{version}/")
    assert names == [f"code/{version}/package.json", f"code/{version}/training.zip"]
    packed = {n for n, _ in build_package().files}
    assert {"training/preprocess.py", "training/requirements.txt"} <= packed
    assert not any("__pycache__" in n for n in packed)
    current = ml_env.store.read_json(ml_env.ml, "code/current.json")
    assert current["version"] == version and current["uploadedAt"]
    etag = ml_env.store.blob(ml_env.ml, f"code/{version}/package.json").get_blob_properties().etag

    assert upload_package(service, ml_env.ml) == version  # again: nothing rewritten
    assert ml_env.store.blob(ml_env.ml, f"code/{version}/package.json").get_blob_properties().etag == etag
    assert ml_env.store.read_json(ml_env.ml, "code/current.json") == current

    # a changed file is a new version
    copy = tmp_path / "training"
    shutil.copytree(HERE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "score.py").write_text((copy / "score.py").read_text() + "\n# changed\n")
    assert build_package(copy).version != version

    # downloaded as Batch does (every file flat in the working folder), the command that the
    # pipelines run unpacks the package and runs the program
    wd = tmp_path / "wd"
    wd.mkdir()
    for name in names:
        (wd / name.rsplit("/", 1)[-1]).write_bytes(ml_env.store.read_bytes(ml_env.ml, name))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run(command_for("preprocess") + " --help", shell=True, cwd=wd,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--manifest-path" in proc.stdout, proc.stderr
    assert Path(wd / "training" / "__init__.py").exists()
