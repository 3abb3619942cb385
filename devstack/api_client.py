"""A small client for the app's HTTP API on the host stand-in (tests and the demo)."""
from __future__ import annotations

import time

import requests

TERMINAL = {"succeeded", "failed", "timed_out", "cancelled"}


class AppClient:
    def __init__(self, base_url: str, function_key: str | None, timeout: float = 30.0):
        self.base = base_url.rstrip("/")
        self.session = requests.Session()
        if function_key:
            self.session.headers["x-functions-key"] = function_key
        self.timeout = timeout

    def request(self, method: str, path: str, **kw) -> requests.Response:
        return self.session.request(method, f"{self.base}/api/{path.lstrip('/')}",
                                    timeout=self.timeout, **kw)

    def start(self, body: dict | None = None, settle_seconds: float = 30.0) -> dict:
        """POST /runs. Files another detector is sealing at that moment (`beingClaimed`,
        e.g. an event's sealer) have no run yet: ask again until they do; a repeated POST
        answers every named file's run, the ones started the first time included."""
        deadline = time.monotonic() + settle_seconds
        while True:
            r = self.request("POST", "runs", json=body) if body is not None else \
                self.request("POST", "runs")
            r.raise_for_status()
            answer = r.json()
            if not answer.get("beingClaimed") or time.monotonic() > deadline:
                return answer
            time.sleep(0.3)

    def run(self, batch_id: str) -> dict | None:
        r = self.request("GET", f"runs/{batch_id}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()

    def runs(self, limit: int = 50) -> list[dict]:
        r = self.request("GET", "runs", params={"limit": limit})
        r.raise_for_status()
        return r.json()["runs"]

    def wait_for_run(self, batch_id: str, timeout: float = 300.0, on_update=None) -> dict:
        """Poll until the batch's run is finished (terminal status); return its record."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.run(batch_id)
            if on_update and record:
                on_update(record)
            if record and record.get("status") in TERMINAL:
                return record
            time.sleep(0.5)
        raise TimeoutError(f"run {batch_id} did not finish within {timeout:.0f}s")

    def wait_for_rerun(self, batch_id: str, adf_runs: int, timeout: float = 180.0) -> dict:
        """Poll until the batch has `adf_runs` ADF runs and is no longer running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.run(batch_id) or {}
            if len(record.get("adfRunIds", [])) >= adf_runs and record["status"] in TERMINAL:
                return record
            time.sleep(0.5)
        raise TimeoutError(f"run {batch_id}: no finished rerun within {timeout:.0f}s")

    def wait_for_runs_of(self, file_names: list[str], timeout: float = 300.0) -> list[dict]:
        """Wait until every named file is in a finished run; return those runs."""
        deadline = time.monotonic() + timeout
        wanted = set(file_names)
        while time.monotonic() < deadline:
            found = [r for r in self.runs(200)
                     if wanted & {f["name"] for f in r.get("files", [])}]
            covered = {f["name"] for r in found for f in r.get("files", [])}
            if wanted <= covered and all(r.get("status") in TERMINAL for r in found):
                return found
            time.sleep(0.5)
        raise TimeoutError(f"files {sorted(wanted)[:3]}... not all in finished runs "
                           f"within {timeout:.0f}s")
