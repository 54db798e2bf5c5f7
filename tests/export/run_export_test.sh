#!/usr/bin/env bash
# CTest driver of the export test: skips (exit 77) when Debian's Python cannot import PyTorch, h5py
# and NumPy (apt-get install python3-torch python3-h5py python3-numpy), else runs compare_logits.py.
set -euo pipefail
python=/usr/bin/python3
if [[ ! -x $python ]] || ! "$python" -c 'import torch, h5py, numpy' 2>/dev/null; then
  echo "export test skipped: $python cannot import torch, h5py and numpy" >&2
  exit 77
fi
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree
exec "$python" "$(dirname "$0")/compare_logits.py" "$@"
