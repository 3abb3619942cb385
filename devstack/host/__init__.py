"""The local Azure Functions host stand-in with a Durable Functions engine.

`python -m devstack.host --settings local.settings.json` serves the function app of
`function_app.py` (its one module-level FunctionApp/DFApp, whatever the variable's name) the
way the real host does; `HostProcess` runs it as a subprocess for tests and the demo.
"""
from __future__ import annotations

__all__ = ["HostProcess"]


def __getattr__(name: str):
    if name == "HostProcess":  # lazy: importing the package must stay cheap
        from devstack.host.process import HostProcess

        return HostProcess
    raise AttributeError(name)
