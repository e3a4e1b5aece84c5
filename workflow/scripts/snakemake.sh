#!/usr/bin/env bash
# DVC stages call Snakemake through this, so `dvc repro` works whether or not the venv is activated:
# the repository's .venv (made by `make`) when it exists, else whatever snakemake is on PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ -x "$here/.venv/bin/snakemake" ]; then
  exec "$here/.venv/bin/snakemake" "$@"
fi
exec snakemake "$@"
