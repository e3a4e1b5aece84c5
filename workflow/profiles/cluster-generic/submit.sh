#!/usr/bin/env bash
# Submit one job: start its job script as a detached local process and print that process' id as the job id.
# The wrapper records the job script's exit status in <logdir>/<id>.status for status.sh.
set -euo pipefail
jobscript="${@: -1}"
logdir="$(pwd)/.snakemake/cluster-generic-logs"
mkdir -p "$logdir"
nohup bash -c 'bash "$1" > "$2/$$.log" 2>&1; echo $? > "$2/$$.status"' _ "$jobscript" "$logdir" \
  > /dev/null 2>&1 < /dev/null &
echo $!
