# Sourced by scripts/repro.sh and scripts/test.sh: a virtual environment with prodcat installed at
# the exact versions of requirements.lock, created on first use and refreshed when the lock or
# pyproject.toml changes. Needs only Python 3.11 and git.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=${VENV:-.venv}
stamp="$VENV/.prodcat-installed-$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "prodcat: setting up $VENV (first run takes a few minutes)..." >&2
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  # uv (pinned in the lock) fetches, unpacks and compiles the wheels in parallel, where pip
  # takes minutes. Compiled now, as pip does: with PYTHONDONTWRITEBYTECODE set, every process
  # would otherwise compile TensorFlow's sources again, which doubles its start-up.
  "$VENV/bin/python" -m pip install --quiet "uv==$(sed -n 's/^uv==//p' requirements.lock)"
  "$VENV/bin/uv" pip install --quiet --compile-bytecode --python "$VENV/bin/python" \
    -r requirements.lock
  "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" --no-deps -e .
  rm -f "$VENV"/.prodcat-installed-* && touch "$stamp"
fi

export PATH="$PWD/$VENV/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
export DVC_NO_ANALYTICS=1
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false
