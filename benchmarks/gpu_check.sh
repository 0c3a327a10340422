#!/usr/bin/env bash
# GPU proof, prepared: run from the repo root on a lent GPU machine after `pip install -e .`.
#
#   bash benchmarks/gpu_check.sh          # on the GPU (about 2-4 minutes; well under 8)
#   bash benchmarks/gpu_check.sh --cpu    # smoke test of the script itself on CPU (seconds)
#
# Checks that ModeGuard picks the CUDA device by itself (device "auto"), then times, in
# steps/s by the wall clock (CUDA synchronised at both ends of each timing):
#   - ring8 with the default point recipe, fp32 and bf16 autocast (config amp=True)
#   - stacked digits (3 x 8 x 8, scikit-learn's digits, no download) with the DCGAN model
#     and the image recipe, bf16 autocast, both networks in channels_last
#   - digits (1 x 8 x 8) with the DCGAN model, bf16: real batches drawn in the training
#     process, then fed by 4 worker processes in pinned memory (config loader_workers=4)
#   - digits with the DCGAN and the plain GAN (no R1: torch.compile has no double backward),
#     eager and compiled (config compile=True)
#   - 64 seeds of the ring8 recipe trained together (modeguard.train.ensemble.Ensemble): steps/s
#     and per-seed throughput against one trainer
# and writes everything to one JSON: $OUT/gpu_check.json where $OUT is set, else
# ./gpu_check.json. Exit status 0 only if every timed check ran.
set -euo pipefail
SMOKE=0
for arg in "$@"; do
  case "$arg" in
    --cpu) SMOKE=1 ;;
    *) echo "usage: bash benchmarks/gpu_check.sh [--cpu]" >&2; exit 2 ;;
  esac
done
DEST="${OUT:-.}/gpu_check.json"
mkdir -p "$(dirname "$DEST")"
exec timeout 470 python3 - "$SMOKE" "$DEST" <<'PY'
import json
import platform
import sys
import time

import torch

from modeguard.config import TrainConfig
from modeguard.train import Trainer
from modeguard.train.ensemble import Ensemble

smoke, dest = sys.argv[1] == "1", sys.argv[2]
device = "cpu" if smoke else "auto"
# (warmup steps, timed steps, repeats) per check; the smoke test only proves the script runs
POINTS = (5, 20, 1) if smoke else (300, 2000, 3)
IMAGES = (2, 5, 1) if smoke else (50, 300, 3)


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def make_trainer(data, model, amp, channels_last=False, batch=None, loader_workers=0, **more):
    """A trainer with no run directory, logging out of reach and the final evaluation off."""
    extra = {"loader_workers": loader_workers, **more} if batch is None else {"batch_size": batch,
                                                                             "loader_workers": loader_workers, **more}
    config = TrainConfig(data=data, model=model, device=device, amp=amp, progress=False, steps=10**8,
                         log_every=10**9, **extra)
    trainer = Trainer(config, run_dir=None)
    trainer.evaluate = lambda *a, **k: {}  # timing the steps, not the evaluation
    if channels_last:
        trainer.ctx.G.to(memory_format=torch.channels_last)
        trainer.ctx.D.to(memory_format=torch.channels_last)
    return trainer


def steps_per_s(trainer, plan):
    """Best of ``repeats`` timings of ``timed`` steps after ``warmup`` steps."""
    warmup, timed, repeats = plan
    trainer.fit(trainer.ctx.step + warmup)
    best = 0.0
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        trainer.fit(trainer.ctx.step + timed)
        sync()
        best = max(best, timed / (time.perf_counter() - t0))
    return round(best, 1)


out = {"torch": torch.__version__, "python": platform.python_version(), "smoke_cpu": smoke,
       "cuda_available": torch.cuda.is_available(),
       "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
ok = True
t_start = time.perf_counter()
probe = make_trainer("ring8", "mlp", amp=False)
out["device_picked"] = str(probe.ctx.device)
if not smoke and probe.ctx.device.type != "cuda":
    out["error"] = "ModeGuard did not pick the CUDA device"
    ok = False
checks = {
    "ring8_mlp_fp32": lambda: make_trainer("ring8", "mlp", amp=False),
    "ring8_mlp_bf16": lambda: make_trainer("ring8", "mlp", amp=True),
    "stacked_digits_dcgan_bf16_channels_last": lambda: make_trainer("stacked-digits", "dcgan", amp=True,
                                                                    channels_last=True),
    "digits_dcgan_bf16": lambda: make_trainer("digits", "dcgan", amp=True),
    "digits_dcgan_bf16_loader_workers_4": lambda: make_trainer("digits", "dcgan", amp=True, loader_workers=4),
    "digits_dcgan_plain_bf16": lambda: make_trainer("digits", "dcgan", amp=True, strategies="none"),
    "digits_dcgan_plain_bf16_compiled": lambda: make_trainer("digits", "dcgan", amp=True, strategies="none",
                                                             compile=True),
}
out["steps_per_s"] = {}
for name, build in checks.items():
    try:
        trainer = build()
        plan = IMAGES if "dcgan" in name else POINTS
        out["steps_per_s"][name] = steps_per_s(trainer, plan)
        out.setdefault("recipes", {})[name] = trainer.config.strategies
    except Exception as e:  # one failing check must not lose the others' figures
        out["steps_per_s"][name] = None
        out.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
        ok = False
    print(name, out["steps_per_s"][name], flush=True)
SEEDS = 4 if smoke else 64
try:
    ensemble = Ensemble(TrainConfig(data="ring8", device=device, progress=False, steps=10**8, log_every=10**9),
                        list(range(SEEDS)))
    for t in ensemble.trainers:
        t.evaluate = lambda *a, **k: {}
    warmup, timed, _ = POINTS
    ensemble.fit(ensemble.ctxs[0].step + warmup)
    sync()
    t0 = time.perf_counter()
    ensemble.fit(ensemble.ctxs[0].step + timed)
    sync()
    rate = timed / (time.perf_counter() - t0)
    solo = out["steps_per_s"].get("ring8_mlp_fp32")
    out["seeds_together"] = {"seeds": SEEDS, "steps_per_s": round(rate, 1),
                             "per_seed_throughput_vs_one_trainer": round(SEEDS * rate / solo, 2) if solo else None}
except Exception as e:
    out["seeds_together"] = {"error": f"{type(e).__name__}: {e}".splitlines()[0][:300]}
    ok = False
print("seeds_together", out["seeds_together"], flush=True)
if torch.cuda.is_available():
    out["max_memory_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
out["wall_s"] = round(time.perf_counter() - t_start, 1)
with open(dest, "w") as f:
    json.dump(out, f, indent=2)
print(json.dumps(out, indent=2))
print("wrote", dest)
sys.exit(0 if ok else 1)
PY
