"""The ``prodcat`` command, one module per command group."""
