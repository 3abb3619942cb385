"""One orchestrator episode: hand the worker's executor a context JSON built from the
history, read back the orchestrator state it returns (as the Functions host does for an
out-of-process orchestrator), and list the actions it asked for."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from azure.functions import meta
from azure.functions.durable_functions import OrchestrationTriggerConverter

# ReplaySchema V3 (upperSchemaVersion 2) without timer-duration settings: timers are never
# split into "long timers" (Azurite has no 7-day queue visibility limit), as with DTS/MSSQL.
UPPER_SCHEMA_VERSION = 2
OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"


@dataclass
class EpisodeResult:
    done: bool
    actions: list[dict]  # flattened atomic actions, cumulative over the whole execution
    output: object = None
    custom_status: object = None
    error: str | None = None  # set when the orchestrator raised
    details: str | None = None
    raw_state: dict = field(default_factory=dict)


def context_json(instance_id: str, history: list[dict], new_from: int, input_value,
                 parent_instance_id: str | None) -> str:
    played = [dict(e, IsPlayed=i < new_from) for i, e in enumerate(history)]
    return json.dumps({
        "history": played,
        "instanceId": instance_id,
        "isReplaying": new_from > 1,
        "parentInstanceId": parent_instance_id,
        "input": input_value,
        "upperSchemaVersion": UPPER_SCHEMA_VERSION,
    })


def flatten(actions) -> list[dict]:
    """Atomic actions in scheduling order: the V2+ payload is one list per execution with
    WhenAll/WhenAny compound actions nesting their children."""
    out: list[dict] = []

    def walk(items):
        for a in items:
            if isinstance(a, list):
                walk(a)
            elif "compoundActions" in a:
                walk(a["compoundActions"])
            else:
                out.append(a)

    walk(actions or [])
    return out


def run_episode(handler: Callable, ctx_json: str) -> EpisodeResult:
    """Invoke the orchestrator function's handler the way the Python worker does."""
    context = OrchestrationTriggerConverter.decode(
        meta.Datum(type="json", value=ctx_json), trigger_metadata=None)
    try:
        state_text = handler(context)
    except Exception as exc:  # the orchestrator raised: state rides after the marker
        message = str(exc)
        state: dict = {}
        if OUT_OF_PROC_MARKER in message:
            message, _, tail = message.partition(OUT_OF_PROC_MARKER)
            try:
                state = json.loads(tail)
            except ValueError:
                state = {}
        import traceback

        details = "".join(traceback.format_exception(exc))
        return EpisodeResult(done=True, actions=flatten(state.get("actions")),
                             custom_status=state.get("customStatus"),
                             error=state.get("error") or message or type(exc).__name__,
                             details=details, raw_state=state)
    state = json.loads(state_text) if isinstance(state_text, str) else state_text
    return EpisodeResult(done=bool(state.get("isDone")), actions=flatten(state.get("actions")),
                         output=state.get("output"), custom_status=state.get("customStatus"),
                         raw_state=state)
