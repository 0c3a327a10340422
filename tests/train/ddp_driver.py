"""``modeguard`` under torchrun with a scripted collapse, for the distributed tests.

``python -m torch.distributed.run --standalone --nproc_per_node 2 tests/train/ddp_driver.py
FIRST LAST DIGESTS train ...``: the points feature space reads the monitor's checks FIRST..LAST
(1-based) as collapsed (see ``tests/monitor/helpers.py``); after the command, each rank writes
a digest of its last trainer's weights, optimizers and step to ``DIGESTS/rank-R.txt`` (outside
the run directory, so the test can still check that only rank 0 wrote the run). With
``POISON_STEP=N`` in the environment, G's weights turn NaN after step N, once per process.
"""
import hashlib
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitor"))

from helpers import scripted_space  # noqa: E402

from modeguard import cli  # noqa: E402
from modeguard.distributed import env_rank  # noqa: E402
from modeguard.monitor import features  # noqa: E402
from modeguard.train import Trainer  # noqa: E402

LAST: list = []
POISONED: list = []
_fit, _train_step = Trainer.fit, Trainer.train_step


def _remember_fit(self, *args, **kwargs):
    LAST[:] = [self]
    return _fit(self, *args, **kwargs)


def _poisoning_step(self):
    _train_step(self)
    if self.ctx.step == int(os.environ["POISON_STEP"]) and not POISONED:
        POISONED.append(self.ctx.step)
        with torch.no_grad():  # the next step's losses are NaN
            next(self.ctx.G.parameters()).fill_(float("nan"))


def digest(trainer) -> str:
    """A hash of G, D, both optimizers' states and the step."""
    ctx = trainer.ctx
    h = hashlib.sha256(str(ctx.step).encode())
    parts = (ctx.G.state_dict(), ctx.D.state_dict(), ctx.opt_g.state_dict()["state"], ctx.opt_d.state_dict()["state"])
    for sd in parts:
        for key in sorted(sd, key=str):
            values = sd[key].values() if isinstance(sd[key], dict) else [sd[key]]
            for v in values:
                if torch.is_tensor(v):
                    h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return f"{ctx.step} {h.hexdigest()}"


def main() -> int:
    first, last, digests = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    features.FEATURE_SPACES["points"] = scripted_space(set(range(first, last + 1)))
    Trainer.fit = _remember_fit
    if os.environ.get("POISON_STEP"):
        Trainer.train_step = _poisoning_step
    code = cli.main(sys.argv[4:])
    if LAST:
        digests.mkdir(parents=True, exist_ok=True)
        (digests / f"rank-{env_rank()}.txt").write_text(digest(LAST[0]))
    return code


if __name__ == "__main__":
    sys.exit(main())
