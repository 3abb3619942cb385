"""Calling the app's functions as the Python worker does: trigger payloads decoded by the
`azure.functions` converters, `context` passed when the function asks for it, async
functions on one long-lived event loop (the durable client keeps an aiohttp session bound
to it), sync functions on the calling worker thread."""
from __future__ import annotations

import asyncio
import inspect
import json
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

RPC_EXCEPTION_TYPE = ("Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, "
                      "Microsoft.Azure.WebJobs.Script")


class InvocationContext:
    """What the worker passes as `context` (azure.functions.Context's attributes)."""

    def __init__(self, function_name: str, function_directory: str = "."):
        self.invocation_id = str(uuid.uuid4())
        self.function_name = function_name
        self.function_directory = function_directory
        self.thread_local_storage = threading.local()
        self.trace_context = None
        self.retry_context = None


class EventLoopThread:
    """One event loop for every async function of the app, as the worker has."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="functions-loop",
                                        daemon=True)
        self._thread.start()

    def run(self, coro, timeout: float | None = None):
        fut: Future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def call(fn: Callable, kwargs: dict, loop: EventLoopThread, function_name: str,
         timeout: float | None = None):
    """Call a user function with the arguments it declares (plus `context` if asked)."""
    params = inspect.signature(fn).parameters
    if "context" in params and "context" not in kwargs:
        kwargs = dict(kwargs, context=InvocationContext(function_name))
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    args = kwargs if accepts_any else {k: v for k, v in kwargs.items() if k in params}
    if inspect.iscoroutinefunction(fn):
        return loop.run(fn(**args), timeout)
    result = fn(**args)
    if inspect.isawaitable(result):
        return loop.run(result, timeout)
    return result


class Invoker:
    """Calls a function with its trigger value and the durable client binding, if any."""

    def __init__(self, loop: EventLoopThread, client_binding: str):
        self.loop = loop
        self.client_binding = client_binding

    def __call__(self, spec, trigger_value, timeout: float | None = None):
        kwargs = {spec.trigger["name"]: trigger_value}
        for b in spec.client_bindings:
            kwargs[b["name"]] = self.client_binding
        return call(spec.fn, kwargs, self.loop, spec.name, timeout)


# --- activity payloads (the worker's ActivityTriggerConverter, both ways) -----------------


def decode_activity_input(text):
    return ActivityTriggerConverter.decode(meta.Datum(type="json", value=text),
                                           trigger_metadata=None)


def encode_activity_output(value) -> str:
    return ActivityTriggerConverter.encode(value, expected_type=None).value


def activity_failure(name: str, exc: BaseException) -> tuple[str, str]:
    """`Reason` and `Details` of the TaskFailed event for an activity that raised.

    The orchestrator sees `Exception(f"{Reason} \\n {Details}")` (the SDK's format): the
    first line names the activity and the Python exception; the second is the host's
    serialized exception as JSON, whose `Message` is "Exception: <type>: <message>".
    """
    kind = type(exc).__name__
    text = " ".join(str(exc).split())
    reason = f"Activity function '{name}' failed: {kind}: {text}"
    stack = "".join(traceback.format_exception(exc))
    details = json.dumps({
        "$type": RPC_EXCEPTION_TYPE,
        "ClassName": RPC_EXCEPTION_TYPE.split(",")[0],
        "Message": f"Exception: {kind}: {text}",
        "RemoteMessage": f"{kind}: {text}",
        "RemoteStackTrace": stack,
        "IsUserException": False,
    })
    return reason, details
