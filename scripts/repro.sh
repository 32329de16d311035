#!/usr/bin/env bash
# Set everything up and run the whole pipeline on the default data: `bash scripts/repro.sh`.
# Extra arguments go to `dvc repro` (e.g. `bash scripts/repro.sh -f`).
source "$(dirname "$0")/env.sh"
dvc repro "$@"
dvc metrics show
