#!/usr/bin/env bash
# The GPU checks in one command (a few minutes on one GPU): the gpu-marked tests, then privevo's VARIATION_API
# against a plain diffusers DDIM loop on CUDA. Results go to $OUT (default benchmarks/gpu_check_out/).
#
#     bash benchmarks/gpu_check.sh                 # from the repository root, in an environment from `make setup`
#     PYTHON=/path/to/python OUT=/tmp/out bash benchmarks/gpu_check.sh
#
# `make setup` on a host where nvidia-smi works swaps faiss-cpu for faiss-gpu; without it the faiss GPU test
# skips (and says so). Exit status: that of the tests (the benchmark figures are printed, not asserted).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks/gpu_check_out}"
mkdir -p "$OUT"
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1

{
  nvidia-smi -L || echo "nvidia-smi failed"
  "$PYTHON" - <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0), "native bf16", torch.cuda.is_bf16_supported(including_emulation=False))
try:
    import faiss
    print("faiss", faiss.__version__, "GPUs seen by faiss", faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0,
          "gpu build", hasattr(faiss, "StandardGpuResources"))
except ImportError as exc:
    print("faiss not importable:", exc)
from privevo.core.devices import resolve_device, resolve_mixed_precision
print("device auto ->", resolve_device("auto"), "| mixed_precision auto ->", resolve_mixed_precision("auto", "auto"))
PY
} 2>&1 | tee "$OUT/environment.txt"

if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "no CUDA device visible to torch: nothing to check (the gpu tests would only skip)" | tee "$OUT/summary.txt"
  exit 3
fi

timeout 240 "$PYTHON" -m pytest -m gpu tests/gpu tests/apis/test_diffusion.py -q -rs -p no:cacheprovider \
  --junitxml="$OUT/gpu_tests.xml" 2>&1 | tee "$OUT/gpu_tests.txt"
tests_status=${PIPESTATUS[0]}

bench() {  # name, then the benchmark's options
  local name=$1; shift
  timeout 120 "$PYTHON" benchmarks/bench_variation_throughput.py --device cuda --json "$OUT/throughput_$name.json" "$@" \
    2>"$OUT/throughput_$name.err" | tee "$OUT/throughput_$name.txt"
}
# The default params' UNet at the default PE settings (batch 128, 25 steps, degree 0.8), in auto precision.
bench default --batch-size 128 --steps 25 --degree 0.8 --repeats 5
# A larger batch, where the GPU is busier and per-step Python overhead matters less.
bench batch512 --batch-size 512 --steps 25 --degree 0.8 --repeats 5
# privevo's auto precision (bf16 autocast where native) against a plain fp32 loop, what diffusers does by default.
bench plain_fp32 --batch-size 128 --steps 25 --degree 0.8 --repeats 5 --plain-precision fp32
# A 3-channel 32x32 UNet of the same architecture (CIFAR-sized samples).
bench rgb32 --batch-size 128 --steps 25 --degree 0.8 --repeats 5 --image-size 32 --channels 3

echo "gpu tests exit status: $tests_status; results in $OUT" | tee "$OUT/summary.txt"
exit "$tests_status"
