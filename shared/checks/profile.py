"""What the checks need to know about a feed: its task, its primary metric and where its
outputs are.

A pipeline's activities write outputs the glue judges, each with a role (the contract, see
`contract`): `data` (rows in, out and rejected, feature histograms), `metrics` (the model
version, its metrics, the champion decision) and `predictions` (the predictions summary). A
feed declares which activity plays which role; `DEFAULT_ROLES` are the digits pipelines'
activity names. The fourth output, the model's `reference` (feature and prediction
distributions of the rows it was trained on), is a file the runs layer reads, not an
activity output.

`Profile()` is today's single feed exactly: classification, `accuracy`, higher is better,
CHECK_ACCURACY_TOLERANCE.
"""
from __future__ import annotations

from dataclasses import dataclass, field

DATA, METRICS, PREDICTIONS, REFERENCE = "data", "metrics", "predictions", "reference"
ACTIVITY_ROLES = (DATA, METRICS, PREDICTIONS)  # outputs of a run's activities
ROLES = (*ACTIVITY_ROLES, REFERENCE)
DEFAULT_ROLES = {DATA: "Preprocess", METRICS: "Train", PREDICTIONS: "Score"}

CLASSIFICATION, REGRESSION = "classification", "regression"
TASKS = (CLASSIFICATION, REGRESSION)
HIGHER, LOWER = "higher", "lower"  # which way a primary metric is better
DIRECTIONS = (HIGHER, LOWER)


@dataclass(frozen=True)
class Profile:
    task: str = CLASSIFICATION
    metric: str = "accuracy"
    direction: str = HIGHER
    tolerance: float | None = None  # None: the CHECK_ACCURACY_TOLERANCE setting
    roles: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ROLES))

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, not {self.task!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {self.direction!r}")
        if self.tolerance is not None and self.tolerance < 0:
            raise ValueError("tolerance must not be negative")
        if set(self.roles) != set(ACTIVITY_ROLES):
            raise ValueError(f"roles must name an activity for each of {ACTIVITY_ROLES}")

    def __hash__(self):
        return hash((self.task, self.metric, self.direction, self.tolerance,
                     tuple(sorted(self.roles.items()))))

    def activity(self, role: str) -> str:
        return self.roles[role]

    def tolerance_for(self, settings) -> float:
        return settings.check_accuracy_tolerance if self.tolerance is None else self.tolerance

    def worse(self, value: float, than: float, tolerance: float) -> bool:
        """Is `value` worse than `than` by more than `tolerance`?"""
        if self.direction == HIGHER:
            return value < than - tolerance
        return value > than + tolerance


DEFAULT = Profile()
