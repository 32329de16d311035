import pandas as pd

from prodcat.stages.export import input_example, model_signature


def test_signature_takes_description_text_and_a_top_k_param() -> None:
    signature = model_signature(top_k=3)
    assert signature.inputs.input_names() == ["description"]
    assert signature.inputs.input_types()[0].name == "string"
    assert signature.outputs.input_names() == ["category", "probability", "top_k"]
    (param,) = signature.params.params
    assert (param.name, param.default) == ("top_k", 3)


def test_input_example_uses_real_test_texts() -> None:
    test_split = pd.DataFrame({"text": ["a", "b", "c", "d"], "label": ["x"] * 4})
    assert input_example(test_split)["description"].tolist() == ["a", "b", "c"]
