#!/usr/bin/env bash
# Job status for Snakemake's generic cluster executor: running while the process lives, then the exit
# status that submit.sh's wrapper recorded (no record means the process was killed: failed).
set -uo pipefail
pid="$1"
status_file="$(pwd)/.snakemake/cluster-generic-logs/$pid.status"
if [ -f "$status_file" ]; then
  [ "$(cat "$status_file")" = "0" ] && echo success || echo failed
elif kill -0 "$pid" 2>/dev/null; then
  echo running
else
  echo failed
fi
