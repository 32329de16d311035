"""Shared test set-up: quiet TensorFlow before anything imports it; long modules first."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

# The order modules start in (path prefixes; the rest follow in collection order). pytest-xdist
# (`--dist loadfile --no-loadscope-reorder`) hands each worker the next module when it is free:
# the long modules start early, the many short ones even out the end of the run, and the module
# that builds the pipeline template the others copy starts first, so nobody waits for it.
RUN_FIRST = (
    "tests/e2e/test_pipeline.py",
    "tests/e2e/",
    "tests/model/",
    "tests/unit/test_training.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.path.relative_to(config.rootpath).as_posix()
        return next(
            (i for i, prefix in enumerate(RUN_FIRST) if module.startswith(prefix)),
            len(RUN_FIRST),
        )

    items.sort(key=rank)  # stable: each module keeps its own order
