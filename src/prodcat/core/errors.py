"""The one exception type that means "the user can fix this"."""


class UserError(Exception):
    """A problem with the user's data, params or command line.

    The CLI prints it as one line, without a traceback (``--debug`` shows one). The message names
    the file and the column, row or key at fault and says what to do.
    """


def caused_by_interrupt(error: BaseException) -> bool:
    """Whether ``error`` is a Ctrl-C, or was raised while one unwound.

    Ctrl-C can land inside a library's context manager (TensorFlow's device scope, say), whose
    exit then fails with an error of its own that hides the KeyboardInterrupt; it stays a Ctrl-C.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__context__
    return False
