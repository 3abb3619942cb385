"""Starting many runs at once (`starters.start_batches`): a request or sweep that seals
hundreds of batches starts them START_AT_ONCE at a time, answers in the batches' order, and a
start that fails does not keep the others from being tried."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from shared.landing.batch import Batch
from shared.orchestration import starters
from shared.settings import load_settings

SERVICES = SimpleNamespace(settings=load_settings(
    {"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}))


def batch(i: int) -> Batch:
    return Batch(batchId=f"unlabelled-{i:020x}", kind="unlabelled", mode="score",
                 manifestPath=f"state/manifests/{i}.json", files=[], reason="test")


class Client:
    """The Durable client at its boundary: starts take a moment, `existing` are running,
    `broken` refuse to start; counts how many starts are in flight at once."""

    def __init__(self, existing=(), broken=()):
        self.existing, self.broken = set(existing), set(broken)
        self.started: list[str] = []
        self.flight = self.most = 0

    async def get_status(self, instance_id):
        status = "Running" if instance_id in self.existing else None
        return SimpleNamespace(runtime_status=status) if status else None

    async def start_new(self, name, instance_id, payload):
        self.flight += 1
        self.most = max(self.most, self.flight)
        try:
            await asyncio.sleep(0.01)
            if instance_id in self.broken:
                raise ConnectionError("Durable API out of reach")
            self.started.append(instance_id)
        finally:
            self.flight -= 1


def test_many_batches_start_at_once_but_at_most_start_at_once_and_answer_in_order():
    batches = [batch(i) for i in range(3 * starters.START_AT_ONCE)]
    client = Client(existing={batches[5].batchId})
    runs = asyncio.run(starters.start_batches(client, SERVICES, batches))
    assert [r["batchId"] for r in runs] == [b.batchId for b in batches]
    assert [r["started"] for r in runs] == [i != 5 for i in range(len(batches))]
    assert client.most == starters.START_AT_ONCE
    assert sorted(client.started) == sorted(b.batchId for i, b in enumerate(batches) if i != 5)


def test_a_start_that_fails_is_raised_after_every_other_start_was_tried():
    batches = [batch(i) for i in range(40)]
    client = Client(broken={batches[0].batchId})
    with pytest.raises(ConnectionError, match="out of reach"):
        asyncio.run(starters.start_batches(client, SERVICES, batches))
    assert sorted(client.started) == sorted(b.batchId for b in batches[1:])
