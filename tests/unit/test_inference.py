import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, ErrorCode

from prodcat.inference import (
    MAX_TEXT_CHARS,
    MAX_TEXTS_PER_REQUEST,
    InvalidInput,
    Predictor,
    rank_categories,
    texts_from_request,
)
from prodcat.model import Architecture, build_model
from prodcat.text import OOV_TOKEN, PAD_TOKEN, build_vectorizer

LABELS = ("bags", "shoes", "tops")


def test_requests_as_frame_or_list() -> None:
    frame = pd.DataFrame({"description": ["red boots", "tote"]})
    assert texts_from_request(frame) == ["red boots", "tote"]
    assert texts_from_request(["red boots"]) == ["red boots"]


@pytest.mark.parametrize(
    ("request_input", "message"),
    [
        (pd.DataFrame({"text": ["boots"]}), "missing field 'description'"),
        (pd.DataFrame({"description": [None]}), "item 0 is null"),
        (pd.DataFrame({"description": ["ok", 5]}), "item 1 is int"),
        (pd.DataFrame({"description": [""]}), "item 0 is empty"),
        (pd.DataFrame({"description": [" \t "]}), "item 0 is empty"),
        (pd.DataFrame({"description": []}), "the request is empty"),
        (["x"] * (MAX_TEXTS_PER_REQUEST + 1), f"send at most {MAX_TEXTS_PER_REQUEST}"),
        (["x" * (MAX_TEXT_CHARS + 1)], f"the limit is {MAX_TEXT_CHARS}"),
    ],
)
def test_bad_requests_are_invalid_parameter_errors(request_input: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        texts_from_request(request_input)
    assert isinstance(raised.value, MlflowException)
    assert raised.value.error_code == ErrorCode.Name(INVALID_PARAMETER_VALUE)


def test_rank_categories_orders_and_clips_top_k() -> None:
    probabilities = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    ranked = rank_categories(probabilities, LABELS, top_k=2)
    assert ranked["category"].tolist() == ["shoes", "bags"]
    assert ranked["probability"].tolist() == pytest.approx([0.7, 0.5])
    assert [choice["category"] for choice in ranked["top_k"][0]] == ["shoes", "tops"]
    assert len(rank_categories(probabilities, LABELS, top_k=10)["top_k"][0]) == 3


def test_predictor_takes_raw_text_including_unknown_words() -> None:
    vocabulary = [PAD_TOKEN, OOV_TOKEN, "red", "boots", "tote"]
    model = build_model(
        Architecture(
            vocabulary_size=len(vocabulary),
            sequence_length=4,
            num_classes=len(LABELS),
            embedding_dim=4,
            lstm_units=4,
            dropout=0.0,
            attention="self",
            pooling="attention",
        )
    )
    predictor = Predictor(model, build_vectorizer(vocabulary, 4), LABELS)
    predictions = predictor.predict(["RED Boots!!", "qwerty zzz"], top_k=2)
    assert list(predictions.columns) == ["category", "probability", "top_k"]
    assert set(predictions["category"]) <= set(LABELS)
    assert predictions["probability"].between(0, 1).all()
    assert all(len(choices) == 2 for choices in predictions["top_k"])
