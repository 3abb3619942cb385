"""What a program was asked to do: ADF's `activity.json`, command-line flags, environment.

ADF writes the Custom activity's definition to `activity.json` in the Batch task's working
directory; user parameters sit under `typeProperties.extendedProperties`, each either a plain
value or `{"type": "SecureString", "value": ...}`. Whatever the program writes to
`outputs.json` there comes back as the activity's `output.customOutput`.

Precedence: command-line flag > extendedProperties > environment variable > default.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

ACTIVITY_FILE = "activity.json"
OUTPUTS_FILE = "outputs.json"

# extendedProperties key -> (flag, environment variable or None)
PARAMETERS = {
    "batchId": ("--batch-id", None),
    "manifestPath": ("--manifest-path", None),
    "codeVersion": ("--code-version", "CODE_VERSION"),
    "mlContainer": ("--ml-container", "ML_CONTAINER"),
    "trainOptions": ("--train-options", None),
    "runId": ("--run-id", None),
    "mode": ("--mode", None),
    "storageAccountUrl": ("--storage-account-url", "STORAGE_ACCOUNT_URL"),
}
CONTAINER_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
DEFAULTS = {"mlContainer": "ml-data", "codeVersion": "local", "trainOptions": "{}", "runId": ""}


class UsageError(ValueError):
    """The program was called with missing or invalid inputs; the message says which."""


def _unwrap(value):
    if isinstance(value, dict) and "value" in value and value.get("type") in (
        "SecureString", "Expression", None
    ):
        return value["value"]
    return value


def read_activity(workdir: Path) -> dict:
    """The extendedProperties of `workdir/activity.json` ({} when there is none)."""
    path = workdir / ACTIVITY_FILE
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from exc
    props = (doc.get("typeProperties") or {}).get("extendedProperties") or {}
    if not isinstance(props, dict):
        raise UsageError(f"{path}: typeProperties.extendedProperties must be an object")
    return {k: _unwrap(v) for k, v in props.items()}


@dataclass
class Context:
    """Everything a program needs to find its inputs and outputs."""

    params: dict
    workdir: Path
    connection_string: str | None = None
    account_url: str | None = None
    client_id: str | None = None
    extra: dict = field(default_factory=dict)

    def get(self, name: str, required: bool = False):
        value = self.params.get(name)
        if value in (None, "") and required:
            flag = PARAMETERS[name][0]
            raise UsageError(
                f"missing parameter {name!r}: pass {flag} or set it in "
                f"{ACTIVITY_FILE} typeProperties.extendedProperties"
            )
        return value

    @property
    def ml_container(self) -> str:
        name = self.get("mlContainer", required=True)
        if not CONTAINER_NAME.fullmatch(name) or "--" in name:
            raise UsageError(
                f"mlContainer {name!r} is not a valid blob container name "
                "(3-63 lowercase letters, digits and single hyphens)"
            )
        return name

    @property
    def batch_id(self) -> str:
        batch_id = self.get("batchId", required=True)
        if "/" in batch_id or batch_id in (".", ".."):
            raise UsageError(f"batchId {batch_id!r} must not contain '/'")
        return batch_id

    def write_outputs(self, outputs: dict) -> Path:
        path = self.workdir / OUTPUTS_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(outputs, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
        return path


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    for name, (flag, env) in PARAMETERS.items():
        hint = f" (extendedProperties.{name}" + (f", env {env}" if env else "") + ")"
        p.add_argument(flag, dest=name, default=None, help=f"{name}{hint}")
    p.add_argument("--storage-connection-string", default=None,
                   help="connection string (else env STORAGE_CONNECTION_STRING)")
    p.add_argument("--workdir", type=Path, default=Path.cwd(),
                   help="where activity.json is read and outputs.json written (default: cwd)")
    return p


def context_from_args(args: argparse.Namespace, env: dict | None = None) -> Context:
    env = os.environ if env is None else env
    workdir = Path(args.workdir)
    from_activity = read_activity(workdir)
    params = {}
    for name, (_, env_name) in PARAMETERS.items():
        value = getattr(args, name, None)
        if value is None:
            value = from_activity.get(name)
        if value in (None, "") and env_name:
            value = env.get(env_name) or None
        if value in (None, ""):
            value = DEFAULTS.get(name)
        params[name] = value
    extra = {k: v for k, v in from_activity.items() if k not in PARAMETERS}
    return Context(
        params=params,
        workdir=workdir,
        connection_string=args.storage_connection_string or env.get("STORAGE_CONNECTION_STRING") or None,
        account_url=params.get("storageAccountUrl"),
        client_id=env.get("AZURE_CLIENT_ID") or None,
        extra=extra,
    )


def configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("azure", "urllib3", "absl", "tensorflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main_wrapper(run, argv, prog: str, description: str, add_args=None) -> int:
    """Parse flags, build the context, run; map errors to exit codes with one clear line.

    Exit 2: bad inputs (UsageError), 1: anything else. ADF marks the activity Failed on a
    non-zero exit code and keeps stderr.
    """
    configure_logging()
    p = parser(prog, description)
    if add_args:
        add_args(p)
    args = p.parse_args(argv)
    stale = Path(args.workdir) / OUTPUTS_FILE
    if stale.exists():  # never hand back a previous run's summary
        stale.unlink()
    try:
        ctx = context_from_args(args)
        outputs = run(ctx, args)
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # one line for the operator, the trace for the log
        log.exception("%s failed", prog)
        print(f"{prog}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    path = ctx.write_outputs(outputs)
    log.info("%s done; summary in %s", prog, path)
    return 0
