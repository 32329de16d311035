"""Registered versions of the model in the MLflow Model Registry, and their aliases."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

logger = logging.getLogger(__name__)

FINGERPRINT_TAG = "model_sha256"


def find_version(client: MlflowClient, name: str, fingerprint: str) -> ModelVersion | None:
    """The version already registered for these exact weights, if any."""
    found = client.search_model_versions(
        f"name = '{name}' and tags.{FINGERPRINT_TAG} = '{fingerprint}'"
    )
    return min(found, key=lambda version: int(version.version)) if found else None


def register_once(
    client: MlflowClient,
    name: str,
    fingerprint: str,
    log_and_register: Callable[[], str],
    tags: Mapping[str, str],
    alias: str,
) -> tuple[ModelVersion, bool]:
    """Register the model unless these weights already are, and point ``alias`` at the version.

    Returns the version and whether it is new. Rerunning export (``dvc repro -f``, or retraining
    to identical weights) reuses the version, whose tags still name the run that first logged it.
    """
    existing = find_version(client, name, fingerprint)
    if existing is None:
        version = log_and_register()
        for key, value in {**tags, FINGERPRINT_TAG: fingerprint}.items():
            client.set_model_version_tag(name, version, key, value)
    else:
        version = existing.version
    client.set_registered_model_alias(name, alias, version)
    return client.get_model_version(name, version), existing is None
