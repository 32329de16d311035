#!/usr/bin/env bash
# Pin every package the set-up installs to one exact version: rewrites requirements.lock from
# pyproject.toml. Run it after changing a dependency there and commit both files:
#   bash scripts/lock.sh                 # keep the pinned versions that still fit
#   bash scripts/lock.sh --upgrade       # move every package to its newest allowed version
set -euo pipefail
cd "$(dirname "$0")/.."
uv=$(command -v uv || echo .venv/bin/uv)
"$uv" pip compile pyproject.toml --extra dev --extra spark \
  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --output-file requirements.lock --quiet "$@"
echo "requirements.lock: $(grep -c '==' requirements.lock) pinned packages"
