import pandas as pd
import pytest
from mlflow.types import DataType

from prodcat.serving.pyfunc import input_example, model_signature


@pytest.mark.parametrize("top_k", [1, 3])
def test_signature_takes_description_text_and_top_k_and_explain_params(top_k: int) -> None:
    signature = model_signature(top_k)
    assert signature.inputs.input_names() == ["description"]
    assert signature.inputs.input_types() == [DataType.string]
    outputs = {spec.name: spec.required for spec in signature.outputs.inputs}
    assert outputs == {
        "category": True,
        "probability": True,
        "top_k": True,
        "needs_review": True,
        "attention": False,
    }
    params = {param.name: (param.dtype, param.default) for param in signature.params.params}
    assert params == {"top_k": (DataType.long, top_k), "explain": (DataType.long, 0)}


def test_input_example_uses_the_first_test_texts() -> None:
    test_split = pd.DataFrame({"text": ["a", "b", "c", "d"], "label": ["x"] * 4})
    example = input_example(test_split)
    assert list(example.columns) == ["description"]
    assert example["description"].tolist() == ["a", "b", "c"]
    assert input_example(test_split, rows=10)["description"].tolist() == ["a", "b", "c", "d"]
