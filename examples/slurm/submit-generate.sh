#!/bin/bash
# Submits the generation array, then the merge, which starts only once every array task succeeded.
#   OUT=/shared/out/hrrr.nc REG_CKPT=... RES_CKPT=... examples/slurm/submit-generate.sh [shards]
# Environment variables (OUT, REG_CKPT, RES_CKPT) are passed on to both jobs (sbatch's default --export=ALL).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shards="${1:-8}"
mkdir -p logs
jid=$(sbatch --parsable --array="0-$((shards - 1))" "$here/generate.sbatch")
echo "generation: array job $jid ($shards tasks)"
SHARDS="$shards" sbatch --parsable --dependency="afterok:$jid" "$here/merge.sbatch" | sed 's/^/merge: job /'
