"""Host keys, created once in the state directory and kept across restarts: the master
key, a default function key, and the system keys of the Durable and Event Grid webhooks.
Keys are passed as `x-functions-key` or `?code=`, as with the real host."""
from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SYSTEM_KEYS = ("durabletask_extension", "eventgrid_extension")


@dataclass(frozen=True)
class Keys:
    master: str
    function: str
    system: dict[str, str]

    def allows(self, level: str, given: str | None, system: str | None = None) -> bool:
        """Whether `given` opens something at `level` (anonymous / function / admin /
        system for a webhook named `system`). Constant-time comparisons."""
        level = level.lower()
        if level == "anonymous":
            return True
        if not given:
            return False
        ok = [self.master]
        if level == "function":
            ok.append(self.function)
        elif level == "system" and system:
            ok.append(self.system.get(system, ""))
        return any(k and hmac.compare_digest(given.encode(), k.encode()) for k in ok)


def _new() -> str:
    return secrets.token_urlsafe(30)


def load_or_create(path: Path) -> Keys:
    """Read the keys file, creating it (and any missing key) the first time."""
    doc = {}
    if path.exists():
        doc = json.loads(path.read_text())
    changed = False
    if not doc.get("masterKey"):
        doc["masterKey"], changed = _new(), True
    funcs = doc.setdefault("functionKeys", {})
    if not funcs.get("default"):
        funcs["default"], changed = _new(), True
    system = doc.setdefault("systemKeys", {})
    for name in SYSTEM_KEYS:
        if not system.get(name):
            system[name], changed = _new(), True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc, indent=2))
        os.replace(tmp, path)  # atomic: two hosts starting together never see half a file
    return Keys(doc["masterKey"], funcs["default"], dict(system))


def key_from(headers, query: dict[str, str]) -> str | None:
    return headers.get("x-functions-key") or query.get("code")
