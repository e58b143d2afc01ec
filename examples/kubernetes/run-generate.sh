#!/bin/sh
# Runs the sharded generation, then the merge once every index has completed.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
kubectl apply -f "$here/generate-job.yaml"
kubectl wait --for=condition=complete --timeout=24h job/corrdiff-generate
kubectl apply -f "$here/merge-job.yaml"
kubectl wait --for=condition=complete --timeout=1h job/corrdiff-merge
kubectl logs job/corrdiff-merge
