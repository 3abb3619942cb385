"""The services an invocation works with, built once per process from the settings and
handed down: logic receives a `Services` and never looks up settings or clients itself.

The entry layer (`functions/`) calls `get_services()`; tests build one from the settings
they want. Clients are built on first use, so an entry point pays only for what it uses.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from shared.settings import Settings, get_settings


@dataclass(frozen=True, eq=False)
class Services:
    settings: Settings

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


@lru_cache(maxsize=8)
def services_for(settings: Settings) -> Services:
    return Services(settings)


def get_services() -> Services:
    """The services for the current settings (the entry layer's one look-up)."""
    return services_for(get_settings())
