"""The collapse monitor in a hand-written PyTorch GAN loop (no ModeGuard trainer).

A plain GAN (non-saturating loss, Adam, two small MLPs) on 8 Gaussians on a ring, the
setting where GANs famously collapse. Every ``--every`` steps the loop hands the monitor
1,000 fresh generator samples and what it knows anyway (losses, D's accuracy); the
monitor answers with events: collapse suspected / confirmed, recovered, diverged,
D overpowering, each with its evidence.

    python examples/monitor_in_plain_loop.py --steps 6000 --every 100
"""
from __future__ import annotations

import argparse
import math

import torch
from torch import nn

from modeguard.monitor import CollapseMonitor
from modeguard.monitor.events import append_events


def ring8(n: int, gen: torch.Generator, std: float = 0.01) -> torch.Tensor:
    """n samples of 8 Gaussians on the unit circle."""
    k = torch.randint(8, (n,), generator=gen)
    angle = 2 * math.pi * k.float() / 8
    centre = torch.stack([angle.cos(), angle.sin()], 1)
    return centre + std * torch.randn(n, 2, generator=gen)


def mlp(d_in: int, d_out: int, width: int = 128) -> nn.Module:
    """A two-hidden-layer ReLU network mapping (n, d_in) to (n, d_out)."""
    return nn.Sequential(nn.Linear(d_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, d_out))


def main(argv=None) -> dict:
    """Train the plain GAN with the monitor watching; ``argv`` as on the command line.

    Returns ``{"events": the events raised, "last": the last check's figures, "checks": how
    many checks ran}``; appends the events to the ``--events`` file when given.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--every", type=int, default=100, help="steps between monitor checks")
    p.add_argument("--warmup", type=int, default=None, help="steps before alarms (default 10%% of --steps)")
    p.add_argument("--stall", type=int, default=None,
                   help="steps without progress before a run stuck below all modes is flagged (default 25%%)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--events", help="append events to this JSONL file")
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(args.seed)
    z_dim, batch = 16, 256
    G, D = mlp(z_dim, 2), mlp(2, 1)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.999))
    bce = nn.functional.binary_cross_entropy_with_logits

    # the monitor: a held-out real reference set, and the modes where we know them
    angles = 2 * math.pi * torch.arange(8) / 8
    centers = torch.stack([angles.cos(), angles.sin()], 1).numpy()
    monitor = CollapseMonitor(ring8(1000, torch.Generator().manual_seed(12345)).numpy(), centers=centers, std=0.01,
                              warmup_steps=args.warmup if args.warmup is not None else args.steps // 10,
                              stall_steps=args.stall if args.stall is not None else args.steps // 4)
    z_check = torch.randn(1000, z_dim, generator=torch.Generator().manual_seed(1))  # same z every check
    events = []
    for step in range(1, args.steps + 1):
        real = ring8(batch, gen)
        fake = G(torch.randn(batch, z_dim, generator=gen))
        d_real, d_fake = D(real), D(fake.detach())
        loss_d = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = bce(D(fake), torch.ones_like(d_fake))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

        if step % args.every == 0:
            with torch.no_grad():
                samples = G(z_check)
            new = monitor.update(step, samples.numpy(), loss_d=loss_d.item(), loss_g=loss_g.item(),
                                 d_real_acc=(d_real > 0).float().mean().item(),
                                 d_fake_acc=(d_fake < 0).float().mean().item())
            for e in new:
                print(e)
            events += new
    last = monitor.last.figures
    print(f"after {args.steps} steps: {int(last['modes'])}/8 modes alive, coverage {last['coverage']:.2f}, "
          f"{len(events)} events")
    if args.events:
        append_events(args.events, events)
    return {"events": events, "last": last, "checks": len(monitor.history)}


if __name__ == "__main__":
    main()
