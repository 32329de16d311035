# Sourced by scripts/repro.sh and scripts/test.sh: a virtual environment with prodcat installed,
# created on first use and refreshed when pyproject.toml changes. Needs only Python 3.11 and git.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=${VENV:-.venv}
stamp="$VENV/.prodcat-installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "prodcat: setting up $VENV (first run takes a few minutes)..." >&2
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e ".[dev,spark]"
  rm -f "$VENV"/.prodcat-installed-* && touch "$stamp"
fi

export PATH="$PWD/$VENV/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
export DVC_NO_ANALYTICS=1
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false
