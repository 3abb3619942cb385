"""Importing function_app (what the host does at cold start) must stay cheap: no TensorFlow,
no management/storage/identity SDKs, no clients."""
import json
import subprocess
import sys

FORBIDDEN = ["tensorflow", "azure.mgmt", "azure.storage", "azure.identity", "azure.monitor",
             "numpy", "scipy", "pydantic"]


def test_function_app_import_pulls_in_no_heavy_module():
    code = (
        "import sys, json, function_app\n"
        "function_app.app.get_functions()\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    bad = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == []
    assert "function_app" in loaded and "azure.functions" in loaded
