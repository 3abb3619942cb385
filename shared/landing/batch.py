"""The batch: the one typed payload that travels from detection to the orchestrator, the
ADF parameters and the run record. Rerun and alert-action batches are built from an
earlier batch here and nowhere else.

Field by field, what a derived batch keeps:

| field | rerun (same batch, ADF reruns from the failed activity) | action (new batch, same files) |
|---|---|---|
| batchId | same | `<base>-<action>-<alert id tail>` |
| kind, mode | same | from the action (retrain: labelled, train-and-score; score: unlabelled, score) |
| manifestPath, files | same | same |
| reason | same (the record keeps why the batch ran; `rerunOf` says it is a rerun) | `alert <id>: <action>` |
| trainOptions, timeoutSeconds, maxReruns | same (ADF reruns with the same parameters) | dropped: the settings' defaults |
| scoreTarget | same (the record keeps the target the run used) | dropped: SCORE_TARGET |
| rerunOf | the failed ADF run id | none |
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.errors import BadRequest
from shared.landing.layout import KINDS, MODE_BY_KIND
from shared.settings import DEFAULT_FEED

Kind = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]  # the feed's kinds
Mode = Literal["train-and-score", "score"]
ACTION_KIND = {"retrain": "labelled", "score": "unlabelled"}


# What a batch id looks like: `<kind>-<20 hex>` from its files (`layout.batch_id`), with the
# feed's name in front for a feed other than the default (`<feed>-<kind>-<20 hex>`), and for
# an alert action `<that>-<action>-<12 hex>` (`Batch.for_action`).
BATCH_ID = re.compile(r"[a-z][a-z0-9-]{0,94}-[0-9a-f]{20}(-(retrain|score)-[0-9a-f]{12})?",
                      re.ASCII)


def check_batch_id(value: str) -> str:
    """A batch id from a route, checked before any storage call; BadRequest otherwise."""
    if not isinstance(value, str) or not BATCH_ID.fullmatch(value):
        raise BadRequest("id: expected a batch id like labelled-<20 hex digits>",
                         "invalid run id")
    return value


class ManifestFile(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    size: int
    etag: str
    lastModified: str | None = None  # noqa: N815 (the manifest's names)
    # New content under a name processed before: the batch that saw the earlier content.
    previousBatchId: str | None = None  # noqa: N815


class RunOverrides(BaseModel):
    """Per-run options a request may set; None means the setting's default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Strict numbers: JSON `true` or "600" is no number of seconds (lax pydantic reads 1, 600).
    trainOptions: dict | None = None  # noqa: N815
    timeoutSeconds: float | None = Field(None, gt=0, le=7 * 24 * 3600, strict=True)  # noqa: N815
    maxReruns: int | None = Field(None, ge=0, le=10, strict=True)  # noqa: N815
    scoreTarget: Literal["batch", "aml-endpoint"] | None = Field(  # noqa: N815
        None, description="where a score-mode run scores: batch (Azure Batch) or "
                          "aml-endpoint (the Azure ML batch endpoint); default SCORE_TARGET")


class Batch(RunOverrides):
    model_config = ConfigDict(extra="ignore", frozen=True)

    batchId: str = Field(min_length=1)  # noqa: N815
    feed: str = Field(DEFAULT_FEED, pattern=r"^[a-z][a-z0-9-]{0,30}$")
    kind: Kind
    mode: Mode
    manifestPath: str  # noqa: N815 "<state container>/manifests/<id>.json", as ADF gets it
    files: list[ManifestFile] = []
    reason: str = ""
    rerunOf: str | None = None  # noqa: N815 the failed ADF run a rerun recovers

    @model_validator(mode="after")
    def _default_feed_kinds(self) -> Batch:
        # Another feed declares its own kinds (checked by the feeds file); the default's are fixed.
        if self.feed == DEFAULT_FEED and self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {', '.join(KINDS)}, not {self.kind!r}")
        return self

    def to_json(self) -> dict:
        return self.model_dump(exclude_none=True)

    def with_request(self, mode: str | None, overrides: RunOverrides | None) -> Batch:
        """This batch as a request asked for it: its mode and per-run options."""
        changes = {k: v for k, v in (overrides.model_dump() if overrides else {}).items()
                   if v is not None}
        if mode:
            changes["mode"] = mode
        return self.model_copy(update=changes) if changes else self

    def rerun(self, failed_adf_run_id: str) -> Batch:
        return self.model_copy(update={"rerunOf": failed_adf_run_id})

    def for_action(self, action: str, alert_id: str) -> Batch:
        kind = ACTION_KIND[action]
        return Batch(batchId=f"{self.batchId}-{action}-{alert_id[-12:]}", feed=self.feed, kind=kind,
                     mode=MODE_BY_KIND[kind], manifestPath=self.manifestPath, files=self.files,
                     reason=f"alert {alert_id}: {action}")

    def run_fields(self) -> dict:
        """What the run record keeps of its batch."""
        return {k: v for k, v in self.to_json().items() if k != "batchId"}
