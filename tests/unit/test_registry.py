"""Registration, promotion and rollback as functions, against a real SQLite Model Registry.

The versions here carry the tags export records (test scores, test split, labels) but no model:
these functions decide from tags alone. The CLI on really trained versions is in
tests/e2e/test_promote.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from prodcat.core.config import PromoteConfig
from prodcat.core.errors import UserError
from prodcat.io.registry import (
    PREVIOUS_CHAMPION_TAG,
    alias_holder,
    label_tags,
    list_versions,
    promote,
    register_once,
    rollback,
)

NAME = "prodcat"
CHALLENGER, CHAMPION = "challenger", "champion"
GATE = PromoteConfig(min_delta=0.0, max_loss_to_baseline=1.0, min_accuracy=0.5, min_macro_f1=0.5)
LABELS = ["footwear", "kitchen", "outerwear"]


@pytest.fixture
def client(tmp_path: Path) -> mlflow.MlflowClient:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def add_version(
    client: mlflow.MlflowClient,
    macro_f1: float,
    accuracy: float = 0.9,
    test_data: str = "split-1",
    labels: list[str] = LABELS,
) -> str:
    """A version as export leaves it: its test scores, split and labels as tags."""
    if not client.search_registered_models(f"name = '{NAME}'"):
        client.create_registered_model(NAME)
    tags = {
        "test_accuracy": str(accuracy),
        "test_macro_f1": str(macro_f1),
        "test_weighted_f1": str(macro_f1),
        "test_data.md5": test_data,
        **label_tags(labels),
    }
    version = client.create_model_version(NAME, source="models/export", tags=tags).version
    client.set_registered_model_alias(NAME, CHALLENGER, version)
    return str(version)


def champion_of(client: mlflow.MlflowClient) -> str | None:
    held = alias_holder(client, NAME, CHAMPION)
    return str(held.version) if held else None


def tags_of(client: mlflow.MlflowClient, version: str) -> dict[str, str]:
    return client.get_model_version(NAME, version).tags


def test_the_same_weights_are_registered_once_and_the_alias_follows(
    client: mlflow.MlflowClient,
) -> None:
    client.create_registered_model(NAME)
    logged: list[str] = []

    def log_and_register() -> str:
        logged.append("logged")
        return str(client.create_model_version(NAME, source="models/export").version)

    first, new = register_once(client, NAME, "sha-a", log_and_register, {"k": "v"}, CHALLENGER)
    again, new_again = register_once(client, NAME, "sha-a", log_and_register, {}, CHALLENGER)
    other, new_other = register_once(client, NAME, "sha-b", log_and_register, {}, CHALLENGER)
    assert (new, new_again, new_other) == (True, False, True)
    assert [str(held.version) for held in (first, again, other)] == ["1", "1", "2"]
    assert first.tags == {"k": "v", "model_sha256": "sha-a"}
    assert logged == ["logged", "logged"]
    assert str(alias_holder(client, NAME, CHALLENGER).version) == "2"


def test_no_model_or_no_alias_holds_nothing(client: mlflow.MlflowClient) -> None:
    assert alias_holder(client, NAME, CHAMPION) is None
    add_version(client, 0.8)
    assert alias_holder(client, NAME, CHAMPION) is None
    assert [(str(v.version), aliases) for v, aliases in list_versions(client, NAME)] == [
        ("1", [CHALLENGER])
    ]


def test_the_first_candidate_that_clears_the_floors_becomes_champion(
    client: mlflow.MlflowClient,
) -> None:
    version = add_version(client, 0.8)
    promotion = promote(client, NAME, CHALLENGER, GATE)
    assert promotion.moved and promotion.decision.passed
    assert promotion.champion is None
    assert champion_of(client) == version
    recorded = tags_of(client, version)
    assert recorded[PREVIOUS_CHAMPION_TAG] == "none"
    assert recorded["champion.forced"] == "false"
    assert recorded["champion.previous_value"] == "none"


def test_a_candidate_below_a_floor_is_refused(client: mlflow.MlflowClient) -> None:
    add_version(client, 0.4)
    promotion = promote(client, NAME, CHALLENGER, GATE)
    assert not promotion.moved
    assert "below the floor" in promotion.decision.reasons[0]
    assert champion_of(client) is None


def test_better_moves_worse_stays_unless_forced_and_dry_run_changes_nothing(
    client: mlflow.MlflowClient,
) -> None:
    first = add_version(client, 0.7)
    promote(client, NAME, CHALLENGER, GATE)
    better = add_version(client, 0.8)
    promoted = promote(client, NAME, CHALLENGER, GATE)
    assert promoted.moved and champion_of(client) == better
    recorded = tags_of(client, better)
    assert recorded[PREVIOUS_CHAMPION_TAG] == first
    assert float(recorded["champion.candidate_value"]) == 0.8
    assert float(recorded["champion.previous_value"]) == 0.7

    worse = add_version(client, 0.75)
    before = tags_of(client, worse)
    dry = promote(client, NAME, CHALLENGER, GATE, dry_run=True)
    refused = promote(client, NAME, CHALLENGER, GATE)
    assert not dry.moved and not refused.moved and not refused.decision.passed
    assert champion_of(client) == better
    assert tags_of(client, worse) == before

    forced = promote(client, NAME, CHALLENGER, GATE, force=True)
    assert forced.moved and champion_of(client) == worse
    assert tags_of(client, worse)["champion.forced"] == "true"
    again = promote(client, NAME, CHALLENGER, GATE, version=worse)
    assert not again.moved


def test_a_missing_or_unscored_version_is_a_user_error(client: mlflow.MlflowClient) -> None:
    add_version(client, 0.8)
    with pytest.raises(UserError, match="has no version 7"):
        promote(client, NAME, CHALLENGER, GATE, version="7")
    unscored = str(client.create_model_version(NAME, source="models/export").version)
    with pytest.raises(UserError, match=f"candidate v{unscored} has no test_accuracy, "):
        promote(client, NAME, CHALLENGER, GATE, version=unscored)


def test_versions_with_different_labels_are_not_compared(client: mlflow.MlflowClient) -> None:
    champion = add_version(client, 0.7)
    promote(client, NAME, CHALLENGER, GATE)
    renamed = ["coats" if label == "outerwear" else label for label in LABELS]
    candidate = add_version(client, 0.99, labels=renamed)
    promotion = promote(client, NAME, CHALLENGER, GATE)
    assert not promotion.moved and not promotion.rescored
    (reason,) = promotion.decision.reasons
    assert f"only candidate v{candidate} has 'coats'" in reason
    assert f"only champion v{champion} has 'outerwear'" in reason
    assert champion_of(client) == champion


def test_scores_on_different_test_splits_need_the_current_split(
    client: mlflow.MlflowClient, tmp_path: Path
) -> None:
    add_version(client, 0.7)
    promote(client, NAME, CHALLENGER, GATE)
    add_version(client, 0.8, test_data="split-2")
    with pytest.raises(UserError, match="needed to score both versions on the same test data"):
        promote(client, NAME, CHALLENGER, GATE, test_split=tmp_path / "missing.csv")


def test_rollback_walks_back_through_the_promotions(client: mlflow.MlflowClient) -> None:
    with pytest.raises(UserError, match="has no 'champion' to roll back"):
        rollback(client, NAME, CHAMPION)
    first = add_version(client, 0.7)
    promote(client, NAME, CHALLENGER, GATE)
    with pytest.raises(UserError, match="has no previous champion"):
        rollback(client, NAME, CHAMPION)
    second = add_version(client, 0.8)
    promote(client, NAME, CHALLENGER, GATE)
    assert rollback(client, NAME, CHAMPION) == (second, first)
    assert champion_of(client) == first
    assert tags_of(client, first)["champion.rolled_back_from"] == second
    assert json.loads(tags_of(client, first)["labels"]) == sorted(LABELS)
