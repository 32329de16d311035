"""The one exception type that means "the user can fix this"."""


class UserError(Exception):
    """A problem with the user's data, params or command line.

    The CLI prints it as one line, without a traceback (``--debug`` shows one). The message names
    the file and the column, row or key at fault and says what to do.
    """
