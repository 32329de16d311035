import logging

import pytest

from prodcat.io.redact import RedactingFilter, redact_text, redact_uri


@pytest.mark.parametrize(
    ("uri", "redacted"),
    [
        ("http://user:s3cr3tPW@127.0.0.1:5000", "http://***@127.0.0.1:5000"),
        ("https://token@host/path", "https://***@host/path"),
        (
            "https://host/x?access_token=abc&run=1&sig=zz",
            "https://host/x?access_token=***&run=1&sig=***",
        ),
        ("http://host:5000/?password=pw", "http://host:5000/?password=***"),
        ("sqlite:////tmp/mlflow.db?timeout=60", "sqlite:////tmp/mlflow.db?timeout=60"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("postgresql://mlflow:pw@db:5432/mlflow", "postgresql://***@db:5432/mlflow"),
    ],
)
def test_uris_lose_user_info_and_token_like_query_values(uri: str, redacted: str) -> None:
    assert redact_uri(uri) == redacted


def test_urls_inside_messages_and_credential_env_values_are_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw-from-the-env")
    message = (
        "API request to http://u:s3cr3tPW@127.0.0.1:9/api/2.0/x failed (Basic auth pw-from-the-env)"
    )
    redacted = redact_text(message)
    assert "s3cr3tPW" not in redacted and "pw-from-the-env" not in redacted
    assert "http://***@127.0.0.1:9/api/2.0/x" in redacted


def test_the_log_filter_redacts_messages_arguments_and_tracebacks() -> None:
    record = logging.LogRecord(
        "mlflow", logging.WARNING, __file__, 1, "store %s is down", ("http://u:pw1234@h",), None
    )
    try:
        raise RuntimeError("http://u:pw1234@h refused")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "pw1234" not in text
    assert "store http://***@h is down" in text
