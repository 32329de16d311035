"""The MLflow UI as a person sees it: `mlflow server` on loopback, driven by headless Chromium.

Screenshots of every step land in pytest's tmp dir, and also in $PRODCAT_SCREENSHOTS when set.
The documentation's come from a model trained on real titles: run `dvc repro` once in a workspace
whose params point at them, then, with PRODCAT_UI_WORKSPACE naming that workspace,
`PRODCAT_SCREENSHOTS=docs/screenshots pytest tests/e2e/test_ui.py`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from prodcat.dev.tracking_server import SERVER_ENV
from tests.e2e.conftest import Workspace
from tests.e2e.servers import free_port, running

LOG = logging.getLogger(__name__)
CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = f"no Chromium at {CHROMIUM}: apt-get install chromium chromium-driver"
# Under CI (which installs Chromium) a missing browser is a failure, not a skip.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true", reason=NO_CHROMIUM
    ),
]

TIMEOUT_MS = 60_000  # two slow cores: the first render of a page can take a while
VIEWPORT = {"width": 1400, "height": 900}
# What a returning user would have: the "Model training" navigation, the assistant panel closed.
QUIET_UI = """
localStorage.setItem('mlflow.workflowType_v1', '"machine_learning"');
localStorage.setItem('mlflow.assistant.panelOpen_v1', 'false');
localStorage.setItem('mlflow.assistant.fab.autoOpenedOnFirstLoad_v1', 'true');
"""


@dataclass(frozen=True)
class Tracked:
    """The MLflow server's address and what `dvc repro` + `prodcat promote` put in its store."""

    url: str
    experiment_id: str
    run_id: str
    run_name: str
    params: dict[str, str]
    metrics: dict[str, float]

    def page(self, fragment: str) -> str:
        return f"{self.url}/#/{fragment}"


@pytest.fixture(scope="module")
def shown(request: pytest.FixtureRequest) -> Workspace:
    """The workspace whose store the UI shows: the fixture pipeline's, or $PRODCAT_UI_WORKSPACE
    (one where `dvc repro` ran once), used in place."""
    source = os.environ.get("PRODCAT_UI_WORKSPACE")
    if not source:
        return request.getfixturevalue("pipeline")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    return Workspace(root=Path(source).resolve(), env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"})


@pytest.fixture(scope="module")
def tracked(shown: Workspace) -> Iterator[Tracked]:
    """`mlflow server` over the workspace's store on a free loopback port, stopped at the end."""
    shown.run("prodcat", "promote")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = ["mlflow", "server", "--backend-store-uri", shown.tracking_uri]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    log = shown.root / "mlflow-server.log"
    env = {**shown.env, **SERVER_ENV}  # as prodcat's own launcher runs it
    with running(command, f"{url}/health", log, cwd=shown.root, env=env):
        yield _what_is_tracked(url)


def _what_is_tracked(url: str) -> Tracked:
    """Ask the server's REST API, so the UI is compared with the same store it shows."""
    api = f"{url}/api/2.0/mlflow"
    experiment = requests.get(
        f"{api}/experiments/get-by-name", params={"experiment_name": "prodcat"}, timeout=30
    )
    experiment.raise_for_status()
    experiment_id = experiment.json()["experiment"]["experiment_id"]
    found = requests.post(
        f"{api}/runs/search", json={"experiment_ids": [experiment_id]}, timeout=30
    )
    found.raise_for_status()
    runs = found.json()["runs"]
    assert len(runs) == 1, f"expected the one run of `dvc repro`, got {len(runs)}"
    run = runs[0]
    return Tracked(
        url=url,
        experiment_id=experiment_id,
        run_id=run["info"]["run_id"],
        run_name=run["info"]["run_name"],
        params={item["key"]: item["value"] for item in run["data"]["params"]},
        metrics={item["key"]: item["value"] for item in run["data"]["metrics"]},
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), NO_CHROMIUM  # only reached under CI=true: see pytestmark
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.add_init_script(QUIET_UI)
    context.set_default_timeout(TIMEOUT_MS)
    # `expect` has its own 5 s default, which a first render on two busy cores can exceed.
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    # Shown in a failing test's captured log: requests the UI never got a good answer to.
    page.on(
        "requestfailed", lambda request: LOG.warning("failed: %s %s", request.url, request.failure)
    )
    page.on(
        "response",
        lambda response: (
            response.status >= 500 and LOG.warning("%s %s", response.status, response.url)
        ),
    )
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def screenshot(page: Page, tmp_path: Path) -> Callable[[str], None]:
    """Save the viewport as <name>.png in tmp_path, and in $PRODCAT_SCREENSHOTS when set."""
    extra = os.environ.get("PRODCAT_SCREENSHOTS")

    def take(name: str) -> None:
        # No "networkidle" to wait for (the UI polls for updates): let charts finish drawing.
        page.wait_for_timeout(1500)
        path = tmp_path / f"{name}.png"
        page.screenshot(path=path)
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            (Path(extra) / path.name).write_bytes(path.read_bytes())

    return take


def js_number(value: float) -> str:
    """A float as the UI prints it (JavaScript's Number#toString for ordinary magnitudes)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def row_of(page: Page, key: str):
    """The table row whose first cell is exactly ``key`` (metrics and parameters tables)."""
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=key, exact=True))


def test_experiment_page_lists_the_run(
    page: Page, tracked: Tracked, screenshot: Callable[[str], None]
) -> None:
    page.goto(tracked.page(f"experiments/{tracked.experiment_id}/runs"))
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=tracked.run_name, exact=True)).to_be_visible()
    expect(page.get_by_text("1 matching run")).to_be_visible()
    screenshot("experiment")


def test_run_page_shows_params_and_test_metrics(
    page: Page, tracked: Tracked, screenshot: Callable[[str], None]
) -> None:
    page.goto(tracked.page(f"experiments/{tracked.experiment_id}/runs/{tracked.run_id}"))
    expect(page.get_by_test_id("runs-header")).to_have_text(tracked.run_name)
    expect(page.get_by_text(tracked.run_id, exact=True)).to_be_visible()  # "About this run"
    for metric in ("test_accuracy", "test_macro_f1"):
        row = row_of(page, metric)
        expect(row).to_be_visible()
        expect(row.get_by_role("cell").nth(1)).to_have_text(js_number(tracked.metrics[metric]))
    screenshot("run")

    for param in ("train.lstm_units", "train.batch_size"):
        row = row_of(page, param)
        row.scroll_into_view_if_needed()
        expect(row).to_be_visible()
        expect(row.get_by_role("cell").nth(1)).to_have_text(tracked.params[param])
    screenshot("run-params")


def test_run_page_draws_the_training_curves(
    page: Page, tracked: Tracked, screenshot: Callable[[str], None]
) -> None:
    page.goto(tracked.page(f"experiments/{tracked.experiment_id}/runs/{tracked.run_id}"))
    page.get_by_role("tab", name="Model metrics").click()
    expect(page).to_have_url(re.compile(r"/model-metrics$"))
    page.get_by_placeholder("Search metric charts").fill("val_")
    for metric in ("val_loss", "val_accuracy"):
        # A per-epoch line chart: its title, and a legend entry naming the run and the metric.
        expect(page.get_by_role("heading", name=metric, exact=True).first).to_be_visible()
        expect(page.get_by_text(f"{tracked.run_name} ({metric})", exact=True)).to_be_visible()
    expect(page.get_by_text("Step", exact=True).first).to_be_visible()  # the x axis: epochs
    screenshot("run-metrics")


def test_run_page_shows_the_confusion_matrix_image(
    page: Page, tracked: Tracked, screenshot: Callable[[str], None]
) -> None:
    page.goto(tracked.page(f"experiments/{tracked.experiment_id}/runs/{tracked.run_id}"))
    page.get_by_role("tab", name="Artifacts").click()
    expect(page).to_have_url(re.compile(r"/artifacts$"))
    page.get_by_text("evaluation", exact=True).click()
    with page.expect_response(lambda response: "confusion_matrix.png" in response.url) as sent:
        page.get_by_text("confusion_matrix.png", exact=True).click()
    assert sent.value.ok, f"{sent.value.url} -> {sent.value.status}"
    image = page.get_by_alt_text("evaluation/confusion_matrix.png", exact=True)
    expect(image).to_be_visible()
    page.wait_for_function(
        "image => image.complete && image.naturalWidth > 0",
        arg=image.element_handle(),
        timeout=TIMEOUT_MS,
    )
    width, height = image.evaluate("image => [image.naturalWidth, image.naturalHeight]")
    assert width > 100 and height > 100, (width, height)
    screenshot("confusion-matrix")


def test_registered_model_page_shows_the_version_and_both_aliases(
    page: Page, tracked: Tracked, screenshot: Callable[[str], None]
) -> None:
    page.goto(tracked.page("models/prodcat"))
    expect(page.get_by_role("heading", name="prodcat", exact=True)).to_be_visible()
    version = page.get_by_role("row").filter(
        has=page.get_by_role("link", name="Version 1", exact=True)
    )
    expect(version).to_be_visible()
    for alias in ("champion", "challenger"):
        tag = version.get_by_role("status").filter(has_text=re.compile(rf"^@\s*{alias}$"))
        expect(tag).to_be_visible()
    # The version's tags carry its run, so the page links the model back to the experiment.
    expect(version.get_by_text(f": {tracked.run_id}")).to_be_visible()
    screenshot("registered-model")


def test_version_page_shows_the_model_card(
    page: Page, tracked: Tracked, screenshot: Callable[[str], None]
) -> None:
    page.goto(tracked.page("models/prodcat/versions/1"))
    expect(page.get_by_role("heading", name="Model card: prodcat")).to_be_visible()
    for section in ("Test metrics", "Weakest classes", "Intended use", "Limits", "Lineage"):
        expect(page.get_by_role("heading", name=re.compile(f"^{section}"))).to_be_visible()
    expect(page.get_by_role("cell", name="this model", exact=True)).to_be_visible()
    screenshot("model-version")
