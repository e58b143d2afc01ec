#!/usr/bin/env bash
# The real-data recipe of examples/real-data.md, end to end, with the wall time of each step:
#   examples/real-data.sh era5_uk_t2m <dir with train.nc and stats.json> [OUT]
#   examples/real-data.sh fmi_radar   <dir with train.nc and stats.json> [OUT]
# Trains the regression and the diffusion model with the shipped configs (their defaults are the
# recipe), generates the 8-member ensemble and the regression mean of every held-out sample, and
# scores both against bilinear and bicubic (OUT/evaluation/scores.md, maps and spectra as PNG).
# Everything is seeded: the same commands give the same numbers.
set -euo pipefail
set_name=${1:?usage: examples/real-data.sh era5_uk_t2m|fmi_radar DATA_DIR [OUT]}
data=$(cd "${2:?usage: examples/real-data.sh era5_uk_t2m|fmi_radar DATA_DIR [OUT]}" && pwd)
out=${3:-real-data-$set_name}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out" && out=$(cd "$out" && pwd)
d=(dataset.data_path="$data/train.nc" dataset.stats_path="$data/stats.json")
step() { # name, command...
  local name=$1 t0=$SECONDS; shift
  echo "== $name"
  "$@"
  echo "== $name: $((SECONDS - t0)) s" | tee -a "$out/times.txt"
}
cd "$repo"
step "train regression" deno task -q train --config-name="config_training_${set_name}_regression.yaml" "${d[@]}" \
  training.io.checkpoint_dir="$out"
step "train diffusion" deno task -q train --config-name="config_training_${set_name}_diffusion.yaml" "${d[@]}" \
  training.io.checkpoint_dir="$out" training.io.regression_checkpoint_path="$out/checkpoints_regression"
gen=(--config-name="config_generate_${set_name}.yaml" "${d[@]}"
  generation.io.reg_ckpt_filename="$out/checkpoints_regression"
  generation.io.res_ckpt_filename="$out/checkpoints_diffusion")
step "generate ensemble" deno task -q generate "${gen[@]}" generation.io.output_filename="$out/ensemble.nc"
step "generate regression mean" deno task -q generate "${gen[@]}" generation.inference_mode=regression \
  generation.num_ensembles=1 generation.seed_batch_size=1 generation.io.output_filename="$out/regression.nc"
step "evaluate" deno task -q evaluate "$out/ensemble.nc" --regression "$out/regression.nc" \
  --data "$data/train.nc" --out "$out/evaluation"
