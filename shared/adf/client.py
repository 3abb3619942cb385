"""The app's Data Factory client: a thin wrapper over `DataFactoryManagementClient`.

Built lazily once per process from settings. In Azure it talks to ARM with the app's
managed identity (`shared.identity.credential`). Locally ADF_ENDPOINT points at the
emulator (`devstack/adf`, HTTPS on loopback) and ADF_CA_BUNDLE at its CA file; for a
loopback endpoint the credential is a static bearer token (the emulator accepts any token;
azure-core only insists on HTTPS), so no Azure login is needed.

Retries: azure-core's own retry is switched off and `_call` retries instead, bounded by
ADF_RETRY_ATTEMPTS, on connection errors and 408/429/500/502/503/504, waiting Retry-After
when the service sends it, else exponential backoff (ADF_RETRY_BACKOFF_SECONDS doubling, at
most ADF_RETRY_MAX_SECONDS). Creating a run is not idempotent, so `start_run` looks for the
batch's run again before every create, and `rerun_from_failure` retries only errors where
the service cannot have created anything (connection refused, 429, 503).

ARM budget: every response's remaining-reads header feeds the client's `ArmBudget`
(`shared.adf.budget`); `slowdown(low)` tells the run watcher and the safety-net polls how
much longer to wait.

Everything returned is plain JSON-serialisable data (it crosses Durable activity
boundaries).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from shared.adf.budget import ArmBudget
from shared.adf.status import (
    FAILURE_STATUSES,
    TERMINAL_STATUSES,
    map_run_status,
    summarize_run,
)
from shared.errors import short as _short
from shared.retry_after import retry_after_seconds
from shared.settings import LOOPBACK, Settings

log = logging.getLogger(__name__)

__all__ = [
    "AdfClient", "AdfError", "AdfRunNotFound", "AdfUnavailable", "FAILURE_STATUSES",
    "TERMINAL_STATUSES", "get_adf_client",
]

# How far back a run of ours is looked for: longer than any run lasts (RUN_TIMEOUT_SECONDS
# is at most a week, reruns restart it) yet one or two pages of `queryPipelineRuns`.
RUN_LOOKBACK_HOURS = 72

TRANSIENT_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})
# Statuses where the service refused the request before doing anything: safe to repeat
# even a non-idempotent POST.
REFUSED_STATUS_CODES = frozenset({429, 503})
# Runs of the same batch that were cancelled are not reused: a new start means start again.
_REUSABLE = {"Queued", "InProgress", "Succeeded", "Failed"}
# Deploy order: what pipelines reference must exist first.
_DEPLOY_ORDER = (("linkedService", "linked_services"), ("dataset", "datasets"),
                 ("pipeline", "pipelines"))
_MAX_PAGES = 1000


class AdfError(RuntimeError):
    """A Data Factory call failed for good; the message says which call and why."""


class AdfUnavailable(AdfError):
    """The factory cannot be reached (or keeps answering with transient errors)."""


class AdfRunNotFound(AdfError, LookupError):
    """No pipeline run with that id in this factory."""


# --- pure helpers --------------------------------------------------------------------------


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None,
                  jitter: float = 0.1) -> float:
    """Seconds to wait after failed try number `attempt` (1-based): Retry-After when given
    (never more than `cap`), else base * 2**(attempt-1) capped, plus up to 10% jitter."""
    if retry_after is not None:
        return min(retry_after, cap)
    delay = min(cap, base * (2 ** (attempt - 1)))
    return delay + random.uniform(0, jitter * delay)


def _status_code(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None),
                                                        "status_code", None)


def is_transient(exc: BaseException, refused_only: bool = False) -> bool:
    """Worth another try? Connection failures and throttling/server-busy statuses."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, ServiceRequestError):
        return True  # never reached the service
    if isinstance(exc, ServiceResponseError):
        return not refused_only  # the request may have been processed
    if isinstance(exc, HttpResponseError):
        codes = REFUSED_STATUS_CODES if refused_only else TRANSIENT_STATUS_CODES
        return _status_code(exc) in codes
    return False


def _headers(exc: BaseException) -> dict | None:
    response = getattr(exc, "response", None)
    return dict(getattr(response, "headers", None) or {}) or None


# --- credential ----------------------------------------------------------------------------


class StaticTokenCredential:
    """A bearer token that never changes: only for the local emulator, which accepts any."""

    def __init__(self, token: str = "local-emulator-token"):
        self._token = token

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + 3600)

    def get_token_info(self, *scopes, options=None):
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self._token, int(time.time()) + 3600)


def is_loopback(endpoint: str | None) -> bool:
    return bool(endpoint) and urlparse(endpoint).hostname in LOOPBACK


def build_management_client(settings: Settings, budget: ArmBudget | None = None):
    """`DataFactoryManagementClient` for the configured factory (ARM, or the emulator);
    every response's headers go to `budget` when one is given."""
    from azure.mgmt.datafactory import DataFactoryManagementClient

    kwargs: dict[str, Any] = {"retry_total": 0}  # AdfClient._call decides about retries
    if budget is not None:
        kwargs["raw_response_hook"] = budget.on_response
    if settings.adf_endpoint:
        kwargs["base_url"] = settings.adf_endpoint.rstrip("/")
        if settings.adf_ca_bundle:
            kwargs["connection_verify"] = str(Path(settings.adf_ca_bundle).expanduser())
    if is_loopback(settings.adf_endpoint):
        credential = StaticTokenCredential()
    else:
        from shared.identity import credential as app_credential

        credential = app_credential(settings.azure_client_id or None)
    return DataFactoryManagementClient(credential, settings.adf_subscription_id, **kwargs)


# --- the client ----------------------------------------------------------------------------


class AdfClient:
    """Start, follow, cancel and rerun pipeline runs of one factory; deploy definitions."""

    def __init__(self, management_client, resource_group: str, factory: str, *,
                 attempts: int = 5, backoff_seconds: float = 1.0, max_delay_seconds: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 budget: ArmBudget | None = None):
        self.mgmt = management_client
        self.budget = budget or ArmBudget()
        self.rg, self.factory = resource_group, factory
        self.attempts, self.backoff, self.max_delay = attempts, backoff_seconds, max_delay_seconds
        self.sleep, self.now = sleep, now

    # --- calls with bounded retries ------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], Any], *, attempts: int | None = None,
              refused_only: bool = False) -> Any:
        limit = attempts or self.attempts
        for attempt in range(1, limit + 1):
            try:
                return fn()
            except Exception as exc:
                if not is_transient(exc, refused_only) or attempt == limit:
                    if is_transient(exc, refused_only):
                        raise AdfUnavailable(
                            f"{what} failed after {attempt} tries: {_short(exc)}") from exc
                    raise
                delay = backoff_delay(attempt, self.backoff, self.max_delay,
                                      retry_after_seconds(_headers(exc)))
                log.warning("%s: transient %s (try %d of %d); retrying in %.2fs", what,
                            _short(exc), attempt, limit, delay)
                self.sleep(delay)
        raise AssertionError("unreachable")

    # --- health ----------------------------------------------------------------------------
    def ping(self) -> None:
        """Raise `AdfUnavailable` unless the factory answers (one try: used by /api/health)."""
        try:
            self.mgmt.factories.get(self.rg, self.factory)
        except Exception as exc:
            raise AdfUnavailable(f"factory {self.factory} unreachable: {_short(exc)}") from exc

    # --- deploy ----------------------------------------------------------------------------
    def deploy(self, root: Path) -> dict:
        """Deploy `root/linkedService`, `root/dataset`, then `root/pipeline` (*.json in ADF's
        git-integration format). Returns the names deployed per kind."""
        from azure.mgmt.datafactory import models

        model_of = {"linked_services": models.LinkedServiceResource,
                    "datasets": models.DatasetResource, "pipelines": models.PipelineResource}
        deployed: dict[str, list[str]] = {}
        root = Path(root)
        if not root.is_dir():
            raise AdfError(f"deploy: {root} is not a folder of ADF definitions")
        for folder, ops_name in _DEPLOY_ORDER:
            names = []
            for path in sorted((root / folder).glob("*.json")):
                name, resource = _load_definition(path, model_of[ops_name])
                ops = getattr(self.mgmt, ops_name)
                self._call(f"deploy {folder} {name}", lambda o=ops, n=name, r=resource:
                           o.create_or_update(self.rg, self.factory, n, r))
                names.append(name)
            deployed[_camel(ops_name)] = names
        log.info("deployed to factory %s: %s", self.factory, deployed)
        return deployed

    # --- runs ------------------------------------------------------------------------------
    def start_run(self, pipeline: str, batch_id: str, parameters: dict,
                  lookback_hours: float = RUN_LOOKBACK_HOURS, first_try: bool = False) -> dict:
        """Start `pipeline` for `batch_id` unless a run for that batch already exists (any
        status but cancelled, updated within `lookback_hours`): {"runId", "created",
        "status"}. Looking is one `queryPipelineRuns` over every run of the pipeline in the
        window (ADF filters on no parameter), so `first_try` (the caller knows no earlier
        call can have created one) skips it on the first attempt; a retried attempt always
        looks, as the failed create may have reached ADF."""
        params = dict(parameters or {})
        if str(params.setdefault("batchId", batch_id)) != str(batch_id):
            raise ValueError(f"parameters batchId {params['batchId']!r} differs from "
                             f"batch_id {batch_id!r}")
        tries = [0]

        def attempt() -> dict:
            tries[0] += 1
            look = not (first_try and tries[0] == 1)
            existing = self.find_run(pipeline, batch_id, lookback_hours) if look else None
            if existing is not None:
                log.info("batch %s: reusing ADF run %s of %s (%s)", batch_id,
                         existing["runId"], pipeline, existing["status"])
                return {"runId": existing["runId"], "created": False,
                        "status": map_run_status(existing["status"])}
            created = self.mgmt.pipelines.create_run(
                self.rg, self.factory, pipeline, parameters=params)
            log.info("batch %s: started ADF run %s of %s", batch_id, created.run_id, pipeline)
            return {"runId": created.run_id, "created": True, "status": "queued"}

        return self._call(f"start {pipeline} for batch {batch_id}", attempt)

    def find_run(self, pipeline: str, batch_id: str,
                 lookback_hours: float = RUN_LOOKBACK_HOURS) -> dict | None:
        """The newest reusable run of `pipeline` whose batchId parameter is `batch_id`."""
        matches = [
            r for r in self.query_runs(lookback_hours, pipeline=pipeline)
            if (r.get("parameters") or {}).get("batchId") == str(batch_id)
            and r.get("status") in _REUSABLE
        ]
        return max(matches, key=lambda r: str(r.get("runStart") or ""), default=None)

    def query_runs(self, lookback_hours: float, pipeline: str | None = None,
                   filters: list[dict] | None = None) -> list[dict]:
        """Every pipeline run updated in the window (all pages), as REST-shaped dicts."""
        from azure.mgmt.datafactory.models import RunFilterParameters, RunQueryFilter

        now = self.now()
        all_filters = [RunQueryFilter(**f) for f in filters or []]
        if pipeline:
            all_filters.append(RunQueryFilter(operand="PipelineName", operator="Equals",
                                              values=[pipeline]))
        return _all_pages("queryPipelineRuns", lambda token: self.mgmt.pipeline_runs
                          .query_by_factory(self.rg, self.factory, RunFilterParameters(
                              last_updated_after=now - dt.timedelta(hours=lookback_hours),
                              last_updated_before=now + dt.timedelta(days=1),  # clock skew
                              filters=all_filters or None, continuation_token=token)))

    def runs_updated(self, after: dt.datetime, before: dt.datetime) -> list[dict]:
        """Every run of the factory whose `lastUpdated` is in [after, before], all pages;
        each page is one `queryPipelineRuns` call with its own retries."""
        from azure.mgmt.datafactory.models import RunFilterParameters

        return _all_pages("queryPipelineRuns", lambda token: self._call(
            "runs updated since " + after.isoformat(), lambda: self.mgmt.pipeline_runs
            .query_by_factory(self.rg, self.factory, RunFilterParameters(
                last_updated_after=after, last_updated_before=before,
                continuation_token=token))))

    def _get_run(self, run_id: str) -> dict:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            run = self._call(f"get run {run_id}", lambda: self.mgmt.pipeline_runs.get(
                self.rg, self.factory, run_id))
        except ResourceNotFoundError:
            raise AdfRunNotFound(f"no pipeline run {run_id} in factory {self.factory}") from None
        return run.serialize(keep_readonly=True)

    def _activity_runs(self, run: dict) -> list[dict]:
        from azure.mgmt.datafactory.models import RunFilterParameters

        start = _parse_time(run.get("runStart")) or self.now() - dt.timedelta(days=3)

        def fetch(token):
            request = RunFilterParameters(
                last_updated_after=start - dt.timedelta(minutes=5),
                last_updated_before=self.now() + dt.timedelta(days=1),
                continuation_token=token)
            return self._call(f"activity runs of {run['runId']}", lambda: self.mgmt
                              .activity_runs.query_by_pipeline_run(
                                  self.rg, self.factory, run["runId"], request))

        return _all_pages("queryActivityruns", fetch)

    def run_status(self, run_id: str) -> dict:
        """{"runId", "pipeline", "status" (queued|running|succeeded|failed|cancelling|
        cancelled), "terminal", "stage", "activities", "error", "outputs", "runStart",
        "runEnd", "durationSeconds", ...}; see `shared.adf.status.summarize_run`. For a rerun
        from failure, outputs of activities that were not run again come from the earlier
        runs of its group."""
        return self.status_of(self._get_run(run_id))

    def status_of(self, run: dict) -> dict:
        """`run_status` of a run already read (from `runs_updated`): its activity runs
        are the only call, plus the group's earlier runs for a rerun."""
        inherited = None
        if run.get("runGroupId") and run["runGroupId"] != run["runId"]:
            inherited = self._group_outputs(run)
        return summarize_run(run, self._activity_runs(run), inherited)

    def _group_outputs(self, run: dict) -> dict:
        start = _parse_time(run.get("runStart")) or self.now()
        hours = max(1.0, (self.now() - start).total_seconds() / 3600 + RUN_LOOKBACK_HOURS)
        group = self._call(f"runs of group {run['runGroupId']}", lambda: self.query_runs(
            hours, filters=[{"operand": "RunGroupId", "operator": "Equals",
                             "values": [run["runGroupId"]]}]))
        earlier = sorted((r for r in group if str(r.get("runStart")) < str(run.get("runStart"))),
                         key=lambda r: str(r.get("runStart")))
        outputs: dict = {}
        for previous in earlier:
            outputs.update(summarize_run(previous, self._activity_runs(previous))["outputs"])
        return outputs

    def cancel(self, run_id: str) -> dict:
        """Cancel a run (and what it runs). A run that already finished is left as it is:
        {"runId", "status", "cancelled": bool, "alreadyFinished": bool}."""
        from azure.core.exceptions import HttpResponseError

        status = map_run_status(self._get_run(run_id).get("status"))
        if status in TERMINAL_STATUSES:
            log.info("run %s already %s; nothing to cancel", run_id, status)
            return {"runId": run_id, "status": status, "cancelled": False,
                    "alreadyFinished": True}
        try:
            self._call(f"cancel run {run_id}", lambda: self.mgmt.pipeline_runs.cancel(
                self.rg, self.factory, run_id, is_recursive=True))
        except HttpResponseError as exc:
            # it may have finished between our look and the cancel
            status = map_run_status(self._get_run(run_id).get("status"))
            if _status_code(exc) in (400, 409) and status in TERMINAL_STATUSES:
                return {"runId": run_id, "status": status, "cancelled": False,
                        "alreadyFinished": True}
            raise
        log.info("run %s: cancel requested", run_id)
        return {"runId": run_id, "status": "cancelling", "cancelled": True,
                "alreadyFinished": False}

    def rerun_from_failure(self, pipeline: str, run_id: str,
                           start_activity: str | None = None) -> dict:
        """A recovery run of a failed (or cancelled) run that starts at what failed, or at
        `start_activity` and what depends on it: {"runId"}. Activities that succeeded (or
        come before `start_activity`) are not run again. It runs with the failed run's
        parameters: ADF takes a run's with `referencePipelineRunId` ("If run ID is specified
        the parameters of the specified run will be used to create a new run", Pipelines -
        Create Run), so none are sent."""
        status = map_run_status(self._get_run(run_id).get("status"))
        if status not in FAILURE_STATUSES:
            raise ValueError(f"run {run_id} is {status}; only a failed or cancelled run can be "
                             "rerun from failure")
        created = self._call(
            f"rerun {run_id} from failure",
            lambda: self.mgmt.pipelines.create_run(
                self.rg, self.factory, pipeline, reference_pipeline_run_id=run_id,
                is_recovery=True,
                **({"start_activity_name": start_activity} if start_activity
                   else {"start_from_failure": True})),
            refused_only=True,
        )
        log.info("run %s: rerun from failure is run %s", run_id, created.run_id)
        return {"runId": created.run_id}


def _all_pages(what: str, fetch: Callable[[str | None], Any]) -> list[dict]:
    """Follow continuation tokens; items as REST-shaped dicts."""
    items, token = [], None
    for _ in range(_MAX_PAGES):
        page = fetch(token)
        items.extend(i.serialize(keep_readonly=True) for i in page.value or [])
        token = page.continuation_token
        if not token:
            return items
    raise AdfError(f"{what} returned more than {_MAX_PAGES} pages")


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p.title() for p in rest)


def _parse_time(value) -> dt.datetime | None:
    if not value:
        return None
    if isinstance(value, dt.datetime):
        return value
    t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _load_definition(path: Path, model):
    """(name, SDK model) from one ADF git-integration JSON file; errors name the file."""
    from azure.core.exceptions import DeserializationError

    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise AdfError(f"deploy: {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("properties"), dict):
        raise AdfError(f"deploy: {path} needs an object with 'name' and 'properties'")
    try:
        resource = model.deserialize(data)
    except DeserializationError as exc:
        raise AdfError(f"deploy: {path} does not match {model.__name__}: {exc}") from None
    return data.get("name") or path.stem, resource


# --- the process-wide client -----------------------------------------------------------------


@lru_cache(maxsize=4)
def get_adf_client(settings: Settings) -> AdfClient:
    """The process's client for these settings, built on first use and reused."""
    budget = ArmBudget()
    return AdfClient(
        build_management_client(settings, budget), settings.adf_resource_group,
        settings.adf_factory_name, attempts=settings.adf_retry_attempts,
        backoff_seconds=settings.adf_retry_backoff_seconds,
        max_delay_seconds=settings.adf_retry_max_seconds, budget=budget,
    )
