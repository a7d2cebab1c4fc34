#!/usr/bin/env bash
# Categorization throughput on a lent GPU machine (issue 13), in one call of the device tool:
# ViT-B-32 and ViT-L-14 (random weights), end to end against the pure forward pass, on 4,000
# generated phone-sized JPEGs. The machine has torch, numpy, Pillow, OpenCV, pyarrow, rich and
# click; open_clip and its two small needs travel as wheels in .whl (see bench/README.md).
#
#   device run: bash bench/gpu_clip.sh      (carry: [".whl"], timeout_s about 540)
set -euo pipefail
out="${OUT:-bench/out}"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt" || true
for model in ViT-B-32 ViT-L-14; do
  python3 bench/clip_bench.py --files "${FILES:-4000}" --model "$model" --batch-size 256 \
    --device "${DEVICE:-cuda}" --no-naive --json "$out/clip-$model.json" 2>&1 | tee "$out/clip-$model.log"
done
