"""How sensitive is each label-free feature space to partial collapse on unlabelled images?

Stand-in generators, so every degree of collapse can be dialled in; which space is the
default is decided on real training runs (``benchmarks/monitor.py detect --spaces``), where
false alarms show up (a real generator's images are never real images).

Stacked digits (3 x 8 x 8, 1,000 label triples) with the labels withheld from the monitor:
each candidate space (:data:`modeguard.monitor.features.LABEL_FREE_SPACES`) sees images
only. Generators are stand-ins that cost nothing to draw:

- ``healthy``: real training stacks (every triple, at its real frequency);
- ``k=K``: real training stacks restricted to K of the 1,000 triples (chosen at random),
  i.e. a generator that dropped the other modes but draws sharp, varied images of its own.

Ground truth is the labelled judge of ``benchmarks/monitor.py``: distinct triples among
10,000 samples (mode classifier, channel by channel); a set is collapsed when it holds
fewer than 950 (the judge's 5% tolerance).

Per space and scenario: coverage / density / diversity of 1,000 samples against the 1,000-
image real reference, and whether the monitor (its default rules, a run of 2,000 steps
checked every 100: warm-up 200, stall 500) confirms a collapse when 10 healthy readings are
followed by 10 readings of the scenario; the ``healthy`` row is 20 healthy readings, where
any confirmation is a false alarm. Costs are CPU seconds of this process (one thread):
start-up (building the space, including training where it trains; no cache) and CPU-ms
per check of 1,000 samples (features + the monitor's figures).

    python benchmarks/unlabelled.py            # prints the table, writes results/unlabelled.md
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from modeguard.data import resolve_data
from modeguard.monitor import CollapseMonitor
from modeguard.monitor.features import LABEL_FREE_SPACES, UNLABELLED_IMAGE_SPACE, classifier_space

RESULTS = Path(__file__).parent / "results"
SCENARIOS = (None, 900, 500, 100, 10, 1)
N, N_REF, JUDGE_N, TOLERANCE = 1000, 1000, 10000, 50
STEPS, EVERY, SWITCH = 2000, 100, 1000
MONITOR = {"warmup_steps": 200, "stall_steps": 500, "total_steps": STEPS}


class Stacks:
    """Real stacked-digit draws, optionally restricted to ``k`` of the 1,000 triples."""

    def __init__(self, data, k: int | None, seed: int):
        self.data, self.k = data, k
        order = np.argsort(data.base.train_labels, kind="stable")  # train images grouped by digit
        self.pixels = data.base.train_images[order, 0]
        self.count = np.bincount(data.base.train_labels, minlength=data.channel_classes)
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]])
        rng = np.random.default_rng(seed)
        self.triples = None if k is None else rng.choice(data.num_modes, size=k, replace=False)

    def draw(self, n: int, seed: int) -> np.ndarray:
        """``n`` stacks ``(n, 3, H, W)`` in [0, 1]."""
        if self.k is None:
            return self.data.to_data_space(self.data.sample(n, torch.Generator().manual_seed(seed)))
        rng = np.random.default_rng(seed)
        modes = self.triples[rng.integers(len(self.triples), size=n)]
        c = self.data.channel_classes
        digits = np.stack([(modes // c ** p) % c for p in (2, 1, 0)], 1)
        idx = self.start[digits] + (rng.random(digits.shape) * self.count[digits]).astype(np.int64)
        return self.pixels[idx].astype(np.float32) / 255.0


def scenario_name(k: int | None) -> str:
    """Row label of a scenario."""
    return "healthy" if k is None else f"k={k}"


def judge(labeller, stacks: Stacks) -> int:
    """Distinct label triples among ``JUDGE_N`` samples (``labeller``: the labelled judge's featurize)."""
    _, modes = labeller(stacks.draw(JUDGE_N, seed=999))
    return int(len(np.unique(modes)))


def run_sequence(space, reference, batches: list[np.ndarray], seconds: list) -> list[str]:
    """Feed one reading per batch (steps EVERY, 2*EVERY, ...); the events' kinds with steps."""
    mon = CollapseMonitor(reference, **space.monitor_kwargs(), **MONITOR)
    events = []
    for i, x in enumerate(batches):
        t0 = time.process_time()
        feats, labels = space.featurize(x)
        events += [f"{e.kind}@{e.step}" for e in mon.update((i + 1) * EVERY, feats, fake_modes=labels)]
        seconds.append(time.process_time() - t0)
    return events


def measure_space(name: str, data, healthy: Stacks, scenarios: dict) -> dict:
    """Start-up cost, per-check cost, and per scenario the figures and the monitor's verdict."""
    t0 = time.process_time()
    space = LABEL_FREE_SPACES[name](data)
    startup = time.process_time() - t0
    reference, _ = space.featurize(data.reference(N_REF, seed=777))
    healthy_batches = [healthy.draw(N, seed=1000 + i) for i in range(STEPS // EVERY)]
    out, seconds = {"startup_s": startup, "rows": {}}, []
    for k, stacks in scenarios.items():
        if k is None:
            batches = healthy_batches
        else:
            batches = healthy_batches[:SWITCH // EVERY] + [stacks.draw(N, seed=2000 + i)
                                                           for i in range(SWITCH // EVERY)]
        events = run_sequence(space, reference, batches, seconds)
        figures = CollapseMonitor(reference, **MONITOR).measure(space.featurize(batches[-1])[0])[0]
        confirmed = [e for e in events if e.startswith("collapse_confirmed")]
        out["rows"][scenario_name(k)] = {"coverage": figures["coverage"], "density": figures["density"],
                                         "diversity": figures["diversity"], "confirmed": confirmed}
    out["check_ms"] = 1000 * float(np.median(seconds)) * 1000 / N
    return out


def markdown(truth: dict, results: dict) -> str:
    """The table: scenario x space -> flagged or not (with coverage), plus the costs."""
    names = list(results)
    lines = ["| scenario | judge: triples of 10k | collapsed? | " + " | ".join(names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    for row, modes in truth.items():
        collapsed = modes < 1000 - TOLERANCE
        cells = []
        for name in names:
            r = results[name]["rows"][row]
            flagged = bool(r["confirmed"])
            verdict = ("flagged" if flagged else "not flagged") if collapsed else (
                "FALSE ALARM" if flagged else "quiet")
            cells.append(f"{verdict} (cov {r['coverage']:.2f}, div {r['diversity']:.2f})")
        lines.append(f"| {row} | {modes} | {'yes' if collapsed else 'no'} | " + " | ".join(cells) + " |")
    lines.append("| start-up, CPU-s | | | " + " | ".join(f"{results[n]['startup_s']:.1f}" for n in names) + " |")
    lines.append("| per check, CPU-ms / 1000 samples | | | "
                 + " | ".join(f"{results[n]['check_ms']:.0f}" for n in names) + " |")
    return "\n".join(lines)


def best(truth: dict, results: dict) -> str:
    """The space that flags the most judged collapses with no false alarm; ties go to the
    cheaper one (start-up plus 50 checks)."""
    def score(name: str) -> tuple:
        rows = results[name]["rows"]
        flagged = sum(bool(rows[r]["confirmed"]) for r, m in truth.items() if m < 1000 - TOLERANCE)
        false_alarms = sum(bool(rows[r]["confirmed"]) for r, m in truth.items() if m >= 1000 - TOLERANCE)
        cost = results[name]["startup_s"] + 50 * results[name]["check_ms"] / 1000
        return (-false_alarms, flagged, -cost)
    return max(results, key=score)


def main(argv=None) -> None:
    """Measure every label-free space on every scenario; print and write the Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(RESULTS / "unlabelled.md"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    data = resolve_data("stacked-digits")
    labeller = classifier_space(data).featurize  # the judge's classifier, from the usual cache
    os.environ["MODEGUARD_CACHE"] = tempfile.mkdtemp(prefix="modeguard-unlabelled-")  # honest start-up cost
    scenarios = {k: Stacks(data, k, seed=5 + i) for i, k in enumerate(SCENARIOS)}
    truth = {scenario_name(k): judge(labeller, s) for k, s in scenarios.items()}
    results = {name: measure_space(name, data, scenarios[None], scenarios) for name in LABEL_FREE_SPACES}
    table = markdown(truth, results)
    text = (f"# The monitor on unlabelled images: stacked digits, labels withheld\n\n"
            f"`python benchmarks/unlabelled.py` (one thread). Best on these stand-ins (most collapses flagged, "
            f"no false alarm, then cheapest): **{best(truth, results)}**; the default for unlabelled images "
            f"(`features.UNLABELLED_IMAGE_SPACE`, chosen on real runs by `benchmarks/monitor.py detect --spaces`): "
            f"**{UNLABELLED_IMAGE_SPACE}**. Each cell: the monitor's verdict on a run of 10 healthy "
            f"readings then 10 of the scenario (healthy row: 20 healthy readings); coverage and diversity "
            f"of the last 1,000 samples against the 1,000-image real reference.\n\n{table}\n")
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
