"""A PyTorch Lightning GAN with ModeGuard's remedies and its collapse-monitor callback.

Needs the optional extra: ``pip install 'modeguard[lightning]'``. The LightningModule trains
G and D by hand (manual optimization) with TTUR, annealed instance noise, one-sided label
smoothing, a lazy R1 penalty and an EMA of G, all from :mod:`modeguard.remedies`; the
:class:`~modeguard.monitor.lightning.CollapseMonitorCallback` samples the EMA generator every
``--every`` steps on 8 Gaussians on a ring and reports collapse as it happens.

    python examples/lightning_gan.py --steps 3000 --every 200
"""
from __future__ import annotations

import argparse
import math

import lightning.pytorch as pl
import torch
from torch import nn

from modeguard.monitor.lightning import CollapseMonitorCallback
from modeguard.remedies import (EMA, add_instance_noise, annealed_sigma, label_smoothing_term, r1_penalty,
                                ttur_adam)


def ring8(n: int, gen: torch.Generator, std: float = 0.02) -> torch.Tensor:
    """``(n, 2)`` samples of 8 Gaussians of std ``std`` on the unit circle."""
    k = torch.randint(8, (n,), generator=gen)
    angle = 2 * math.pi * k.float() / 8
    return torch.stack([angle.cos(), angle.sin()], 1) + std * torch.randn(n, 2, generator=gen)


def mlp(d_in: int, d_out: int, width: int = 128) -> nn.Module:
    """A two-hidden-layer MLP ``(n, d_in)`` -> ``(n, d_out)``."""
    return nn.Sequential(nn.Linear(d_in, width), nn.LeakyReLU(0.2), nn.Linear(width, width), nn.LeakyReLU(0.2),
                         nn.Linear(width, d_out))


class RemedyGAN(pl.LightningModule):
    """Non-saturating GAN on point batches ``(n, 2)``, trained with ModeGuard's remedies.

    ``sample(n)`` draws ``(n, 2)`` points from the EMA generator (what the monitor checks).
    """

    def __init__(self, z_dim: int = 16, total_steps: int = 3000, r1_every: int = 4, gamma: float = 1.0):
        super().__init__()
        self.automatic_optimization = False  # two optimizers, stepped by hand
        self.z_dim, self.total_steps, self.r1_every, self.gamma = z_dim, total_steps, r1_every, gamma
        self.G, self.D = mlp(z_dim, 2), mlp(2, 1)
        self.ema = EMA(self.G, beta=0.995)
        self.noise = torch.Generator().manual_seed(0)

    def configure_optimizers(self):
        return list(ttur_adam(self.G.parameters(), self.D.parameters(), lr_g=2e-4, lr_d=8e-4, betas=(0.5, 0.999)))

    def training_step(self, batch, batch_idx):
        (real,) = batch
        opt_g, opt_d = self.optimizers()
        step, n = self.global_step // 2, len(real)  # Lightning counts both optimizers' steps
        sigma = annealed_sigma(step, self.total_steps, sigma=0.1, anneal=0.5)
        softplus = nn.functional.softplus

        with torch.no_grad():
            fake = self.G(torch.randn(n, self.z_dim, device=self.device))
        real_in, fake_in = add_instance_noise(real, fake, sigma, self.noise)
        d_real, d_fake = self.D(real_in), self.D(fake_in)
        loss_d = softplus(-d_real).mean() + softplus(d_fake).mean() + label_smoothing_term(d_real, 0.9)
        if step % self.r1_every == 0:
            r1 = r1_penalty(self.D, real_in)
            loss_d = loss_d + 0.5 * self.gamma * self.r1_every * r1
            self.log("r1", r1.detach())
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()

        fake = self.G(torch.randn(n, self.z_dim, device=self.device))
        _, fake_in = add_instance_noise(real, fake, sigma, self.noise)
        loss_g = softplus(-self.D(fake_in)).mean()
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        self.ema.update()
        # the names the monitor callback reads
        self.log_dict({"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
                       "d_real_acc": (d_real > 0).float().mean(), "d_fake_acc": (d_fake < 0).float().mean()})

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """``(n, 2)`` samples of the EMA generator."""
        return self.ema.module(torch.randn(n, self.z_dim, device=self.device))


def main(argv=None) -> dict:
    """Train with Lightning; returns ``{"events", "last", "module", "callback"}``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000, help="training steps (default 3000)")
    p.add_argument("--every", type=int, default=200, help="steps between monitor checks (default 200)")
    p.add_argument("--batch", type=int, default=256, help="batch size (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--out", default="lightning_gan_run", help="folder for Lightning's files and the monitor's "
                   "events (default ./lightning_gan_run)")
    args = p.parse_args(argv)
    pl.seed_everything(args.seed, verbose=False)
    data = ring8(args.steps * args.batch, torch.Generator().manual_seed(args.seed))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data), batch_size=args.batch, shuffle=True)
    angle = 2 * math.pi * torch.arange(8) / 8
    callback = CollapseMonitorCallback(ring8(1000, torch.Generator().manual_seed(12345)).numpy(),
                                       every_n_steps=2 * args.every, n_samples=1000,
                                       centers=torch.stack([angle.cos(), angle.sin()], 1).numpy(), std=0.02,
                                       # Lightning's global step counts G's and D's optimizer steps
                                       warmup_steps=2 * args.steps // 10, stall_steps=2 * args.steps // 4)
    module = RemedyGAN(total_steps=args.steps)
    trainer = pl.Trainer(default_root_dir=args.out, max_steps=2 * args.steps, max_epochs=1, logger=False,
                         enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                         callbacks=[callback])
    trainer.fit(module, loader)
    last = callback.monitor.last.figures if callback.monitor.last is not None else {}
    return {"events": callback.events, "last": last, "module": module, "callback": callback}


if __name__ == "__main__":
    main()
