#!/usr/bin/env bash
# Set everything up, lint, and run the test suite: `bash scripts/test.sh`.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m "not slow"`).
source "$(dirname "$0")/env.sh"
ruff check .
ruff format --check .
pytest "$@"
