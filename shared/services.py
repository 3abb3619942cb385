"""The services an invocation works with, built once per process from the settings and
handed down: logic receives a `Services` and never looks up settings or clients itself.

The entry layer (`functions/`) calls `get_services()`; tests build one from the settings
they want. Clients are built on first use, so an entry point pays only for what it uses.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from shared.settings import Settings, SettingsError, get_settings

APP_ROOT = Path(__file__).resolve().parents[1]
HOST_JSON = APP_ROOT / "host.json"


@dataclass(frozen=True, eq=False)
class Services:
    settings: Settings

    @cached_property
    def feeds(self):
        """The feeds FEEDS_FILE declares (`shared.feeds`; a relative path from the app's
        folder), or the single default feed `digits`; read once."""
        from shared.feeds import load_feeds

        path = self.settings.feeds_file
        settings = self.settings
        if path and not Path(path).is_absolute():
            settings = settings.model_copy(update={"feeds_file": str(APP_ROOT / path)})
        return load_feeds(settings, os.environ)

    @cached_property
    def state(self):
        """STATE_CONTAINER: claims, manifests, run records, alerts, markers (BlobState)."""
        from shared.storage import BlobState, container

        return BlobState(container(self.settings.state_container, self.settings))

    @cached_property
    def landing(self):
        """LANDING_CONTAINER (a ContainerClient): only ever read."""
        from shared.storage import container

        return container(self.settings.landing_container, self.settings)

    @cached_property
    def ml(self):
        """ML_CONTAINER: what `training/` writes (see `shared.runs.ml_layout`)."""
        from shared.storage import BlobState, container

        return BlobState(container(self.settings.ml_container, self.settings))

    @cached_property
    def adf(self):
        from shared.adf.client import get_adf_client

        return get_adf_client(self.settings)


def function_timeout_seconds(host_json: Path = HOST_JSON) -> float | None:
    """host.json's `functionTimeout` in seconds (None when absent or unlimited, "-1")."""
    try:
        value = json.loads(host_json.read_text()).get("functionTimeout")
    except FileNotFoundError:
        return None
    m = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})", str(value or ""))
    if not m:
        return None
    days, h, mins, secs = (int(x or 0) for x in m.groups())
    return float(((days * 24 + h) * 60 + mins) * 60 + secs)


def check_claim_timeout(settings: Settings, host_json: Path = HOST_JSON) -> None:
    """A claim is taken over only from a detector that is gone: that holds while no
    function (a detector runs inside one) outlives CLAIM_TIMEOUT_SECONDS."""
    limit = function_timeout_seconds(host_json)
    if limit is None or settings.claim_timeout_seconds <= limit:
        raise SettingsError(
            f"CLAIM_TIMEOUT_SECONDS ({settings.claim_timeout_seconds:g}) must be longer than "
            f"host.json functionTimeout ({'unlimited' if limit is None else f'{limit:g} s'}): "
            "a slow detector's claims could be taken over while it still seals them")


@lru_cache(maxsize=8)
def services_for(settings: Settings) -> Services:
    """Checked at start: the claim timeout, and the feeds file (a `FeedsError`, one line per
    problem, when it is wrong)."""
    check_claim_timeout(settings)
    services = Services(settings)
    services.feeds  # noqa: B018 (read and validated once, here)
    return services


def get_services() -> Services:
    """The services for the current settings (the entry layer's one look-up)."""
    return services_for(get_settings())
