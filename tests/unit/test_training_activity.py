"""How a program learns its parameters: activity.json as ADF writes it, flags, environment."""
from __future__ import annotations

import json

import pytest

from training.activity import UsageError, context_from_args, parser


def _ctx(tmp_path, argv=(), env=None, activity=None):
    if activity is not None:
        (tmp_path / "activity.json").write_text(json.dumps(activity))
    args = parser("t", "t").parse_args([*argv, "--workdir", str(tmp_path)])
    return context_from_args(args, env or {})


ACTIVITY = {
    "name": "Preprocess", "type": "Custom",
    "typeProperties": {
        "command": "python -m training.preprocess",
        "extendedProperties": {
            "batchId": "b-1",
            "manifestPath": {"type": "SecureString", "value": "state/manifests/b-1.json"},
            "mlContainer": {"value": "mlbox", "type": "Expression"},
            "storageAccountUrl": "https://acct.blob.core.windows.net",
            "somethingElse": 5,
        },
    },
}


def test_extended_properties_are_read_and_secure_strings_unwrapped(tmp_path):
    ctx = _ctx(tmp_path, activity=ACTIVITY, env={"STORAGE_CONNECTION_STRING": "UseDev"})
    assert ctx.batch_id == "b-1" and ctx.get("manifestPath") == "state/manifests/b-1.json"
    assert ctx.ml_container == "mlbox" and ctx.account_url == "https://acct.blob.core.windows.net"
    assert ctx.connection_string == "UseDev" and ctx.extra == {"somethingElse": 5}
    assert ctx.get("trainOptions") == "{}"  # default


def test_flags_beat_activity_json_and_env_fills_gaps(tmp_path):
    ctx = _ctx(tmp_path, ["--batch-id", "b-2"], activity=ACTIVITY,
               env={"ML_CONTAINER": "ignored", "AZURE_CLIENT_ID": "cid"})
    assert ctx.batch_id == "b-2" and ctx.ml_container == "mlbox" and ctx.client_id == "cid"
    (tmp_path / "none").mkdir()
    bare = _ctx(tmp_path / "none", env={"ML_CONTAINER": "from-env", "STORAGE_ACCOUNT_URL": "https://x"})
    assert bare.ml_container == "from-env" and bare.account_url == "https://x"


def test_missing_or_invalid_parameters_are_named(tmp_path):
    ctx = _ctx(tmp_path)
    with pytest.raises(UsageError, match="batchId.*--batch-id"):
        _ = ctx.batch_id
    with pytest.raises(UsageError, match="not a valid blob container name"):
        _ = _ctx(tmp_path, ["--ml-container", "ml"]).ml_container
    with pytest.raises(UsageError, match="must not contain"):
        _ = _ctx(tmp_path, ["--batch-id", "a/b"]).batch_id
    (tmp_path / "activity.json").write_text("{broken")
    with pytest.raises(UsageError, match="activity.json is not valid JSON"):
        _ctx(tmp_path)


def test_training_never_imports_the_app():
    """training/ talks to the app only through ADF parameters and blob paths."""
    import ast
    from pathlib import Path

    import training

    root = Path(training.__file__).parent
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in {"shared", "functions", "devstack", "function_app"}, \
                    f"{path.name} imports {name}"
