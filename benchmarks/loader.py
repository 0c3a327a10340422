"""Image-folder loading with and without worker processes (``--loader-workers``).

Writes a folder of PNGs (128 x 128 RGB, smooth noise), then for each worker count: the time
to decode it to 64 x 64 (wall, CPU of this process, CPU of the workers), and the steps/s of a
DCGAN run on it (batch 64, no strategies) whose real batches come from those workers.
Rounds alternate the worker counts so that load from other processes hits each alike.

    python benchmarks/loader.py [--images 2000] [--workers 2] [--steps 40] [--rounds 2]
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from modeguard.config import TrainConfig
from modeguard.data.images import load_image_folder
from modeguard.train import Trainer


def write_folder(folder: Path, n: int) -> None:
    """``n`` PNGs of smooth noise (16 x 16 noise upscaled to 128 x 128), seeded."""
    rng = np.random.default_rng(0)
    for i in range(n):
        base = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(base).resize((128, 128), Image.Resampling.BILINEAR).save(folder / f"{i:05d}.png")


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def time_decode(folder: Path, workers: int) -> dict:
    """Wall and CPU seconds to decode the folder at 64 x 64."""
    t0, c0, w0 = time.perf_counter(), time.process_time(), children_cpu()
    load_image_folder(folder, 64, workers=workers)
    return {"wall_s": time.perf_counter() - t0, "cpu_main_s": time.process_time() - c0,
            "cpu_workers_s": children_cpu() - w0}


def time_steps(folder: Path, workers: int, steps: int) -> float:
    """Steps/s of a DCGAN run fed by ``workers`` loader processes (after 5 warm-up steps)."""
    config = TrainConfig(data=f"images:{folder}@64", model="dcgan", strategies="none", batch_size=64,
                         steps=10**6, log_every=10**6, progress=False, loader_workers=workers)
    trainer = Trainer(config)
    trainer.evaluate = lambda *a, **k: {}  # timing the steps only
    trainer.fit(5)
    t0 = time.perf_counter()
    trainer.fit(5 + steps)
    return steps / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_folder(folder, args.images)
        for r in range(args.rounds):
            for workers in ((0, args.workers) if r % 2 == 0 else (args.workers, 0)):
                d = time_decode(folder, workers)
                rate = time_steps(folder, workers, args.steps)
                print(f"round {r} workers={workers}: decode {args.images} images wall {d['wall_s']:.2f} s, "
                      f"CPU here {d['cpu_main_s']:.2f} s, CPU in workers {d['cpu_workers_s']:.2f} s; "
                      f"DCGAN 64x64 batch 64: {rate:.2f} steps/s", flush=True)


if __name__ == "__main__":
    main()
