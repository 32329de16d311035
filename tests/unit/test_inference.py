import dataclasses
from unittest.mock import ANY

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, ErrorCode

from prodcat.core.calibration import Calibration
from prodcat.serving import predictor as predictor_module
from prodcat.serving.predictor import Predictor, rank_categories
from prodcat.serving.pyfunc import ProdcatModel
from prodcat.serving.requests import (
    MAX_REQUEST_BYTES,
    MAX_REQUEST_CHARS,
    MAX_TEXT_CHARS,
    MAX_TEXTS_PER_REQUEST,
    InvalidInput,
    refused_body,
    texts_from_request,
)
from tests.unit.tiny_model import LABELS, tiny_predictor


@pytest.mark.parametrize(
    "request_input",
    [
        pd.DataFrame({"description": ["red boots", "tote"]}),
        pd.DataFrame({"id": [1, 2], "description": ["red boots", "tote"]}),
        ["red boots", "tote"],
        ("red boots", "tote"),
        pd.Series(["red boots", "tote"]),
        {"description": ["red boots", "tote"]},
    ],
    ids=["frame", "frame-with-extra-column", "list", "tuple", "series", "dict"],
)
def test_accepted_request_forms(request_input: object) -> None:
    assert texts_from_request(request_input) == ["red boots", "tote"]


def test_texts_are_passed_on_as_sent() -> None:
    assert texts_from_request(["  RED Boots!! "]) == ["  RED Boots!! "]


@pytest.mark.parametrize(
    ("request_input", "message"),
    [
        pytest.param(
            pd.DataFrame({"text": ["boots"]}),
            r"missing field 'description' \(fields found: text\)",
            id="missing-column",
        ),
        pytest.param(
            pd.DataFrame(), r"missing field 'description' \(fields found: none\)", id="no-columns"
        ),
        pytest.param(None, "expected records with a 'description' field", id="none"),
        pytest.param(5, "expected records with a 'description' field", id="number"),
        pytest.param("red boots", "expected records with a 'description' field", id="bare-string"),
        pytest.param(
            {"text": "boots"}, "expected records with a 'description' field", id="dict-no-field"
        ),
        pytest.param(
            pd.DataFrame({"description": [None]}),
            "'description' of item 0 is null; expected text",
            id="null-in-frame",
        ),
        pytest.param([None], "item 0 is null", id="null-in-list"),
        pytest.param(
            ["ok", 5], "'description' of item 1 is int; expected text", id="number-in-list"
        ),
        pytest.param(
            pd.DataFrame({"description": [""]}), "'description' of item 0 is empty", id="empty"
        ),
        pytest.param(["ok", " \t\n "], "item 1 is empty", id="whitespace-only"),
        pytest.param(
            pd.DataFrame({"description": []}),
            "no texts to classify: the request is empty",
            id="empty-frame",
        ),
        pytest.param([], "the request is empty", id="empty-list"),
        pytest.param(
            ["x"] * (MAX_TEXTS_PER_REQUEST + 1),
            f"send at most {MAX_TEXTS_PER_REQUEST} per request",
            id="too-many-texts",
        ),
        pytest.param(
            ["ok", "x" * (MAX_TEXT_CHARS + 1)],
            f"item 1 has {MAX_TEXT_CHARS + 1} characters; the limit is {MAX_TEXT_CHARS}",
            id="text-too-long",
        ),
    ],
)
def test_bad_requests_are_invalid_parameter_errors(request_input: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        texts_from_request(request_input)
    assert isinstance(raised.value, MlflowException)
    assert raised.value.error_code == ErrorCode.Name(INVALID_PARAMETER_VALUE)


def test_a_missing_value_beside_texts_is_reported_as_null() -> None:
    request_input = pd.DataFrame({"description": ["ok", None]})  # pandas stores NaN here
    with pytest.raises(InvalidInput) as raised:
        texts_from_request(request_input)
    assert "item 1 is null" in raised.value.message


def test_requests_at_the_limits_are_accepted() -> None:
    assert len(texts_from_request(["x"] * MAX_TEXTS_PER_REQUEST)) == MAX_TEXTS_PER_REQUEST
    assert texts_from_request(["x" * MAX_TEXT_CHARS]) == ["x" * MAX_TEXT_CHARS]


PROBABILITIES = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])


def test_rank_categories_orders_by_probability() -> None:
    ranked = rank_categories(PROBABILITIES, LABELS, top_k=3)
    assert list(ranked.columns) == ["category", "probability", "top_k", "needs_review"]
    assert ranked["category"].tolist() == ["shoes", "bags"]
    assert ranked["probability"].tolist() == pytest.approx([0.7, 0.5])
    assert ranked["top_k"][0] == [
        {"category": "shoes", "probability": pytest.approx(0.7)},
        {"category": "tops", "probability": pytest.approx(0.2)},
        {"category": "bags", "probability": pytest.approx(0.1)},
    ]
    assert [choice["category"] for choice in ranked["top_k"][1]] == ["bags", "tops", "shoes"]


@pytest.mark.parametrize(("top_k", "length"), [(1, 1), (2, 2), (3, 3), (10, 3)])
def test_rank_categories_respects_and_clips_top_k(top_k: int, length: int) -> None:
    ranked = rank_categories(PROBABILITIES, LABELS, top_k=top_k)
    assert [len(choices) for choices in ranked["top_k"]] == [length, length]
    assert ranked["top_k"][0][0]["category"] == ranked["category"][0]


def test_rank_categories_breaks_ties_by_label_order() -> None:
    ranked = rank_categories(np.array([[0.4, 0.4, 0.2]]), LABELS, top_k=2)
    assert [choice["category"] for choice in ranked["top_k"][0]] == ["bags", "shoes"]


@pytest.fixture
def predictor() -> Predictor:
    return tiny_predictor()


def test_predictor_takes_raw_text_including_unknown_words(predictor: Predictor) -> None:
    texts = ["RED Boots!!", "qwerty zzz", "Tote bag, red 👜"]
    predictions = predictor.predict(texts, top_k=2)
    assert list(predictions.columns) == ["category", "probability", "top_k", "needs_review"]
    assert len(predictions) == len(texts)
    assert set(predictions["category"]) <= set(LABELS)
    assert predictions["probability"].between(0, 1).all()
    for _, row in predictions.iterrows():
        assert len(row["top_k"]) == 2
        assert row["top_k"][0] == {"category": row["category"], "probability": row["probability"]}
        assert row["top_k"][0]["probability"] >= row["top_k"][1]["probability"]


def test_a_calibrated_predictor_cools_its_probabilities_and_marks_reviews(
    predictor: Predictor,
) -> None:
    texts = ["RED Boots!!", "qwerty zzz", "tote bag"]
    raw = predictor.probabilities(texts)
    top = raw.max(axis=1)
    ordered = np.sort(
        top
    )  # between the least sure and the next: only the least sure goes to review
    threshold = float(ordered[0] + ordered[1]) / 2
    cooled = Predictor(
        predictor.model,
        predictor.encoder,
        predictor.labels,
        Calibration(temperature=3.0, threshold=0.0, target_precision=0.9),
    )
    calibrated = cooled.predict(texts, top_k=3)
    assert (calibrated["probability"] < top).all()  # flatter, as a temperature above 1 makes
    assert calibrated["category"].tolist() == [LABELS[i] for i in raw.argmax(axis=1)]
    assert not calibrated["needs_review"].any()
    strict = Predictor(
        predictor.model,
        predictor.encoder,
        predictor.labels,
        Calibration(temperature=1.0, threshold=threshold, target_precision=0.9),
    )
    assert strict.predict(texts, top_k=1)["needs_review"].tolist() == list(top < threshold)
    best = strict.best(texts)
    assert best["needs_review"].tolist() == list(top < threshold)
    np.testing.assert_allclose(best["probability"], top, rtol=1e-6)
    unreachable = Calibration(temperature=1.0, threshold=1.0, target_precision=0.9, reached=False)
    assert (
        Predictor(predictor.model, predictor.encoder, predictor.labels, unreachable)
        .best(texts)["needs_review"]
        .all()
    )


def test_predictor_normalises_text_like_training_did(predictor: Predictor) -> None:
    probabilities = predictor.probabilities(["RED   Boots!!", "red boots"])
    assert probabilities.shape == (2, len(LABELS))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(probabilities[0], probabilities[1], rtol=1e-6)


def test_explained_predictions_add_the_most_attended_words(predictor: Predictor) -> None:
    texts = ["RED Boots!!", "tote bag qwerty"]
    plain = predictor.predict(texts, top_k=2)
    explained = predictor.predict_explained(texts, top_k=2, top_words=2)
    assert list(explained.columns) == [
        "category",
        "probability",
        "top_k",
        "needs_review",
        "attention",
    ]
    pd.testing.assert_frame_equal(explained[plain.columns], plain, rtol=1e-5)
    first, second = explained["attention"]
    assert {word["word"] for word in first} == {"red", "boots"}
    assert first[0]["weight"] >= first[1]["weight"]
    assert len(second) == 2
    _, full = predictor.explain(texts)
    assert [word.word for word in full[1].words] == ["tote", "bag", "qwerty"]
    assert [word.known for word in full[1].words] == [True, True, False]
    assert sum(word.weight for word in full[1].words) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("params", "message"), [({"explain": -1}, "explain"), ({"top_k": 0}, "top_k")]
)
def test_the_pyfunc_adapter_refuses_bad_params(
    predictor: Predictor, params: dict, message: str
) -> None:
    adapter = ProdcatModel()
    adapter._predictor = predictor
    request = pd.DataFrame({"description": ["red boots"]})
    with pytest.raises(InvalidInput, match=message):
        adapter.predict(context=None, model_input=request, params=params)
    answer = adapter.predict(context=None, model_input=request, params={"explain": 1})
    assert len(answer["attention"][0]) == 1


def test_the_texts_of_one_request_are_capped_in_characters_all_together() -> None:
    per_text = MAX_REQUEST_CHARS // MAX_TEXTS_PER_REQUEST
    assert len(texts_from_request(["x" * per_text] * MAX_TEXTS_PER_REQUEST)) == 5000
    with pytest.raises(InvalidInput, match=f"may hold {MAX_REQUEST_CHARS} in all"):
        texts_from_request(["x" * (per_text + 1)] * MAX_TEXTS_PER_REQUEST)


def test_bodies_without_content_type_or_too_large_are_refused_unread() -> None:
    assert refused_body(b"{}", None) == (415, ANY)
    assert refused_body(b"x" * (MAX_REQUEST_BYTES + 1), "application/json")[0] == 413
    assert refused_body(b"{}", "application/json") is None


def test_the_predictor_cuts_titles_as_prepare_did(predictor: Predictor) -> None:
    cutting = dataclasses.replace(predictor, max_title_chars=9)
    assert cutting.normalized(["Red Boots, tote bag"]) == ["red boots"]
    np.testing.assert_allclose(
        cutting.probabilities(["red boots tote bag shirt"]),
        predictor.probabilities(["red boots"]),
        rtol=1e-6,
    )


def test_a_long_list_is_scored_in_model_batches_with_the_same_result(
    predictor: Predictor, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["black leather boots", "steel pan", "zzz", "", "wool coat"] * 3
    whole = predictor.probabilities(texts)
    calls = []
    score = predictor.model.predict_on_batch
    monkeypatch.setattr(predictor_module, "MODEL_BATCH", 4)
    monkeypatch.setattr(predictor.model, "predict_on_batch", lambda x: calls.append(1) or score(x))
    np.testing.assert_allclose(predictor.probabilities(texts), whole, rtol=1e-5, atol=1e-6)
    assert len(calls) == 4  # 15 texts, 4 at a time
    assert predictor.probabilities([]).shape == (0, len(predictor.labels))
