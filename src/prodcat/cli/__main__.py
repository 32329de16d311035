"""``python -m prodcat.cli``: the same as the ``prodcat`` command."""

import sys

from prodcat.cli.main import main

sys.exit(main())
