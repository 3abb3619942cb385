"""Azurite as devstack starts it: the environment its process really has."""
from __future__ import annotations

from pathlib import Path

from devstack.azurite import Azurite


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_azurite_runs_with_one_malloc_arena_and_its_journal(azurite):
    env = _environ(azurite.proc.pid)
    assert env["MALLOC_ARENA_MAX"] == "1"
    assert env["DEVSTACK_AZURITE_WRITES"] == str(azurite.journal)
    assert env["DEVSTACK_AZURITE_BLOB_PORT"] == str(azurite.blob_port)


def test_a_malloc_arena_max_already_set_is_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert Azurite(tmp_path).environment()["MALLOC_ARENA_MAX"] == "2"
