""".github/workflows/ as GitHub Actions users expect them, checked offline by well-kept
tools: the GitHub workflow schema vendored in check-jsonschema, and zizmor's security audit
(pedantic persona: nothing suppressed). Then what each workflow must do."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def _tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    path = str(found) if found.exists() else shutil.which(name)
    assert path, f"{name} is not installed (requirements-dev.txt)"
    return path


def _schema_check(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("check-jsonschema"), "--builtin-schema",
                           "vendor.github-workflows", *map(str, files)],
                          capture_output=True, text=True, timeout=120)


def _zizmor(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("zizmor"), "--offline", "--persona", "pedantic",
                           "--no-progress", str(path)],
                          capture_output=True, text=True, timeout=120)


def _load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def test_there_is_a_ci_and_a_deploy_workflow():
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["ci.yml", "deploy.yml"]


def test_workflows_match_the_github_workflow_schema():
    proc = _schema_check(*sorted(WORKFLOWS.glob("*.yml")))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    step: []\n")
    assert _schema_check(bad).returncode != 0


def test_zizmor_finds_nothing_even_pedantic():
    proc = _zizmor(WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings" in proc.stdout + proc.stderr
    assert "suppressed" not in proc.stdout + proc.stderr


def test_zizmor_flags_a_template_injection(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request_target\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n")
    proc = _zizmor(bad)
    assert proc.returncode != 0 and "template-injection" in proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_every_action_is_pinned_to_a_commit(name):
    uses = [s["uses"] for _, s in _steps(_load(name)) if "uses" in s]
    assert uses
    assert [u for u in uses if not re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u)] == []


def test_ci_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    runs = [s.get("run", "") for _, s in _steps(_load("ci.yml"))]
    assert "make test" in runs
    ci = _load("ci.yml")
    assert ci["permissions"] == {"contents": "read"}


def test_ci_holds_the_mutation_floors():
    jobs = {job: [s.get("run", "") for s in spec["steps"]]
            for job, spec in _load("ci.yml")["jobs"].items()}
    assert "make mutation" in jobs["mutation"]


def test_deploy_logs_in_with_oidc_only():
    wf = _load("deploy.yml")
    assert wf["permissions"] == {}
    logins = [(job, s) for job, s in _steps(wf) if s.get("uses", "").startswith("azure/login@")]
    assert {job for job, _ in logins} == {"infra", "app", "release", "events"}
    for job, step in logins:
        assert set(step["with"]) == {"client-id", "tenant-id", "subscription-id"}, job
        assert wf["jobs"][job]["permissions"]["id-token"] == "write"
    release = next(s for j, s in logins if j == "release")
    assert "RELEASE" in release["with"]["client-id"]
    assert "client-secret" not in (WORKFLOWS / "deploy.yml").read_text()


def test_deploy_runs_template_zip_deploy_release_then_events():
    wf = _load("deploy.yml")
    jobs = wf["jobs"]
    script = {job: "\n".join(s.get("run", "") for j, s in _steps(wf) if j == job) for job in jobs}
    assert "az deployment group create" in script["infra"]
    assert "-f infra/main.bicep" in script["infra"] and "subscribeEvents=false" in script["infra"]
    assert "config-zip" in script["app"]
    assert "python -m release" in script["release"]
    assert "subscribeEvents=true" in script["events"]
    assert jobs["app"]["needs"] == "infra" and jobs["release"]["needs"] == "infra"
    assert sorted(jobs["events"]["needs"]) == ["app", "release"]


def test_secrets_reach_scripts_only_through_env():
    for name in ("ci.yml", "deploy.yml"):
        for job, step in _steps(_load(name)):
            assert "${{" not in step.get("run", ""), f"{name}:{job}: expression in a script"
