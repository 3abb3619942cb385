"""`make up` / `make down`: the stack stays up in the foreground, says where everything is,
serves the app, and stops on `down`."""
import json
import re
import subprocess
import sys
import time

import pytest
import requests

pytestmark = pytest.mark.slow


def test_up_prints_where_things_are_serves_the_app_and_down_stops_it(tmp_path):
    settings = tmp_path / "local.settings.json"
    root = tmp_path / "stack"
    up = subprocess.Popen([sys.executable, "-m", "devstack", "up", "--root", str(root),
                           "--settings", str(settings), "--free-ports"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = up.stdout.readline()
            assert line or up.poll() is None, "".join(lines)
            lines.append(line)
            if "stop with Ctrl-C" in line:
                break
        out = "".join(lines)
        assert "generated" in out and json.loads(settings.read_text())["Values"]
        host = re.search(r"host stand-in\s+(http://127\.0\.0\.1:\d+)\s+\(function key: (\S+)\)", out)
        assert host, out
        assert "Data Factory    https://127.0.0.1:" in out and "/api/runs" in out, out
        assert "on_blob_created" in out and "pipeline_run" in out
        base, key = host.group(1), host.group(2)
        assert requests.get(f"{base}/api/health", timeout=10).json()["ok"] is True
        assert requests.get(f"{base}/api/runs", headers={"x-functions-key": key}, timeout=10).ok
        down = subprocess.run([sys.executable, "-m", "devstack", "down", "--root", str(root)],
                              capture_output=True, text=True, timeout=30)
        assert down.returncode == 0 and "asked the stack" in down.stdout
        assert up.wait(60) == 0
        assert not (root / "up.pid").exists()
    finally:
        if up.poll() is None:  # stop gracefully so the stack's children go too
            up.terminate()
            try:
                up.wait(60)
            except subprocess.TimeoutExpired:
                up.kill()
