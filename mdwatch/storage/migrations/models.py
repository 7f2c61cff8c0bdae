"""Every table of mdwatch's models, for autogenerate and for the test that head matches them."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

MODEL_MODULES = (
    "mdwatch.storage.schema",
    "mdwatch.storage.evidence",
    "mdwatch.storage.history",
    "mdwatch.storage.images",
    "mdwatch.storage.leads",
    "mdwatch.storage.sweeps",
    "mdwatch.storage.schedule_tables",
    "mdwatch.storage.registry_schema",
    "mdwatch.storage.custody",
    "mdwatch.storage.notifications",
    "mdwatch.storage.accounts",
    "mdwatch.storage.audit",
    "mdwatch.storage.reviews",
)


def target_metadata() -> list[MetaData]:
    """The main store's metadata (every module's tables loaded) and the registry's."""
    for module in MODEL_MODULES:
        importlib.import_module(module)
    from mdwatch.storage.registry_schema import RegistryBase
    from mdwatch.storage.schema import Base

    return [Base.metadata, RegistryBase.metadata]
