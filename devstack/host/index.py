"""Index the app's functions from their bindings, as the v2 programming model exposes them
(`FunctionApp.get_functions()` and each function's function.json), the way the worker
indexes them for the host."""
from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

TRIGGERS = {"httpTrigger", "timerTrigger", "eventGridTrigger", "orchestrationTrigger",
            "activityTrigger"}
OTHER_BINDINGS = {"http", "durableClient"}


@dataclass
class FunctionSpec:
    name: str
    trigger: dict
    bindings: list[dict]
    fn: object  # the user function as the worker calls it
    client_bindings: list[dict] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.trigger["type"]

    @property
    def durable_name(self) -> str:
        """Orchestrators and activities are called by this name (the trigger may rename)."""
        return self.trigger.get("orchestration") or self.trigger.get("activity") or self.name


@dataclass
class AppIndex:
    functions: list[FunctionSpec]
    skipped: list[tuple[str, str]]  # (function, why)

    def of_kind(self, kind: str) -> list[FunctionSpec]:
        return [f for f in self.functions if f.kind == kind]

    def by_name(self, name: str) -> FunctionSpec | None:
        return next((f for f in self.functions if f.name == name), None)


def load_app(module: str):
    """Import `module` and return its function app, found as the Python worker finds it:
    the one module-level instance of `azure.functions.FunctionRegister` (a `FunctionApp`,
    a `DFApp`, or a subclass), whatever its variable is called (`app`, `myApp`, ...).
    None, or more than one variable holding one, is an error, as in the worker."""
    from azure.functions import FunctionRegister

    mod = importlib.import_module(module)
    found = [(name, value) for name, value in vars(mod).items()
             if isinstance(value, FunctionRegister)]
    if not found:
        raise LookupError(
            f"module {module!r} defines no function app: the worker needs one module-level "
            "FunctionApp or DFApp instance, e.g. `app = func.FunctionApp()` or "
            "`app = df.DFApp()`")
    if len(found) > 1:
        which = " and ".join(f"`{name}` ({type(value).__name__})" for name, value in found)
        raise LookupError(
            f"module {module!r} defines more than one function app at module level: {which}; "
            "the worker accepts exactly one (register the others' functions as blueprints)")
    name, app = found[0]
    log.debug("function app: %s.%s (%s)", module, name, type(app).__name__)
    return app


def index_app(app) -> AppIndex:
    functions, skipped = [], []
    for f in app.get_functions():
        name = f.get_function_name()
        bindings = json.loads(f.get_function_json())["bindings"]
        triggers = [b for b in bindings if b["type"].endswith("Trigger")]
        if len(triggers) != 1:
            skipped.append((name, f"{len(triggers)} triggers"))
            continue
        trigger = triggers[0]
        unsupported = [b["type"] for b in bindings
                       if b is not trigger and b["type"] not in OTHER_BINDINGS]
        if trigger["type"] not in TRIGGERS or unsupported:
            what = ", ".join([trigger["type"]] if trigger["type"] not in TRIGGERS
                             else unsupported)
            skipped.append((name, f"binding {what} is not supported by the devstack host"))
            continue
        functions.append(FunctionSpec(
            name=name, trigger=trigger, bindings=bindings, fn=f.get_user_function(),
            client_bindings=[b for b in bindings if b["type"] == "durableClient"]))
    for name, why in skipped:
        log.warning("function %s is not served: %s", name, why)
    return AppIndex(functions, skipped)
