#!/usr/bin/env bash
# Markdown for a pull request: the committed metrics and params against BASE (a git revision),
# the pictures of the committed run, and dvc_plots/ (interactive plots of both revisions).
#   bash scripts/pr_report.sh origin/main [URL of the pictures' revision]
set -euo pipefail
base=${1:?usage: pr_report.sh BASE_REVISION [PICTURES_URL]}
pictures=${2:-}
source "$(dirname "$0")/env.sh"
echo "## Metrics against \`$base\`"
echo
dvc metrics diff "$base" --md --all
echo
echo "## Params against \`$base\`"
echo
dvc params diff "$base" --md
dvc plots diff "$base" --out dvc_plots >/dev/null
echo
echo "The interactive plots of both revisions are in the \`dvc-plots\` artifact of this run."
if [ -n "$pictures" ]; then
  echo
  echo "## The committed run"
  for picture in training_curves confusion_matrix per_class_f1 reliability coverage; do
    if [ -f "reports/plots/$picture.png" ]; then
      echo "![$picture]($pictures/reports/plots/$picture.png)"
    fi
  done
fi
