"""A local stand-in for Azure Data Factory: the ARM REST API the app uses, over HTTPS, and
a pipeline engine that runs Custom activities as local processes the way Azure Batch does.

`Emulator` runs it in this process; `EmulatorProcess` runs `python -m devstack.adf` as a
subprocess. See `emulator.py` for what "the linked storage" means locally.
"""
from devstack.adf.emulator import Emulator, EmulatorProcess

__all__ = ["Emulator", "EmulatorProcess"]
