"""`trainOptions`: what a training run may change, validated before any work starts."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from training.activity import UsageError

# name -> (type, low, high) inclusive bounds
BOUNDS = {
    "epochs": (int, 1, 1000),
    "hiddenUnits": (int, 1, 4096),
    "learningRate": (float, 1e-6, 1.0),
    "seed": (int, 0, 2**31 - 1),
    "holdoutFraction": (float, 0.05, 0.5),
    "promotionTolerance": (float, 0.0, 1.0),
    "batchSize": (int, 1, 65536),
}


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 40
    hiddenUnits: int = 64
    learningRate: float = 0.005
    seed: int = 42
    holdoutFraction: float = 0.2
    promotionTolerance: float = 0.01
    batchSize: int = 32

    def as_dict(self) -> dict:
        return asdict(self)


def parse_options(raw, cls=TrainOptions, bounds=BOUNDS):
    """From the JSON string (or object) of the `trainOptions` parameter; UsageError naming
    the offending key otherwise. `cls` and `bounds`: another workload's options (a frozen
    dataclass of defaults and its name -> (type, low, high))."""
    if raw in (None, ""):
        raw = "{}"
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UsageError(f"trainOptions is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"trainOptions must be a JSON object, got {type(raw).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UsageError(f"trainOptions: unknown option(s) {unknown}; known: {sorted(known)}")
    values = {}
    for key, value in raw.items():
        typ, low, high = bounds[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            typ is int and isinstance(value, float) and not value.is_integer()
        ):
            raise UsageError(f"trainOptions.{key} must be a number ({typ.__name__}), got {value!r}")
        value = typ(value)
        if not low <= value <= high:
            raise UsageError(f"trainOptions.{key} must be between {low} and {high}, got {value}")
        values[key] = value
    return cls(**values)
