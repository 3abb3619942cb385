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
    """Import `module` and return its FunctionApp (the `app` attribute)."""
    mod = importlib.import_module(module)
    app = getattr(mod, "app", None)
    if app is None or not hasattr(app, "get_functions"):
        raise LookupError(f"module {module!r} has no FunctionApp named `app`")
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
