"""Which errors are a Ctrl-C in disguise."""

from __future__ import annotations

import pytest

from prodcat.core.errors import caused_by_interrupt


def _cleanup_fails_during(interrupt: BaseException) -> None:
    """A context manager whose exit breaks when Ctrl-C unwinds through it, as TensorFlow's can."""
    try:
        raise interrupt
    finally:
        raise RuntimeError("Exiting device scope without proper scope nesting")


def _rethrown_without_context(error_source: BaseException) -> BaseException:
    """What Keras's traceback filter does: ``raise error.with_traceback(...) from None``."""
    try:
        try:
            _cleanup_fails_during(error_source)
        except Exception as error:
            raise error.with_traceback(None) from None
    except Exception as error:
        return error
    raise AssertionError("nothing was raised")


def test_a_ctrl_c_is_an_interrupt() -> None:
    assert caused_by_interrupt(KeyboardInterrupt())


def test_an_error_raised_while_a_ctrl_c_unwinds_is_an_interrupt() -> None:
    with pytest.raises(RuntimeError) as raised:
        _cleanup_fails_during(KeyboardInterrupt())
    assert caused_by_interrupt(raised.value)


def test_the_interrupt_is_found_even_when_the_traceback_hides_it() -> None:
    error = _rethrown_without_context(KeyboardInterrupt())
    assert error.__suppress_context__
    assert caused_by_interrupt(error)


def test_the_same_failure_without_a_ctrl_c_is_an_error() -> None:
    assert not caused_by_interrupt(_rethrown_without_context(ValueError("bad input")))
    assert not caused_by_interrupt(RuntimeError("boom"))
