"""The deployment package: `.funcignore` keeps every module the app imports and leaves out
what only runs here (training code ships to Batch separately, tests, the local stack)."""
import subprocess
from pathlib import Path

import pathspec

ROOT = Path(__file__).resolve().parents[2]


def tracked() -> set[str]:
    return set(subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.split())


def shipped() -> set[str]:
    spec = pathspec.GitIgnoreSpec.from_lines((ROOT / ".funcignore").read_text().splitlines())
    return {f for f in tracked() if not spec.match_file(f)}


def test_the_package_holds_the_whole_app_and_its_host_configuration():
    files = shipped()
    app = {f for f in tracked() if f.startswith(("shared/", "functions/")) and f.endswith(".py")}
    assert app and app <= files, sorted(app - files)
    assert {"function_app.py", "host.json", "requirements.txt"} <= files
    contract = {f for f in tracked() if f.startswith("contract/")}  # the checks read the schemas
    assert contract and contract <= files


def test_the_package_leaves_out_what_only_runs_elsewhere():
    top = {f.split("/")[0] for f in shipped()}
    assert top.isdisjoint({"training", "devstack", "tests", "bench", "adf", "infra", "release",
                           "docs", ".github", ".ci", "node_modules"})
