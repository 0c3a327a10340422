"""The collapse monitor: cheap health checks of a GAN during training, with typed events.

Use it in any PyTorch loop::

    mon = CollapseMonitor(reference=real_features, centers=centers, std=0.01)
    for step in ...:
        ...
        if step % 200 == 0:
            for event in mon.update(step, fake_features, loss_d=..., loss_g=...):
                print(event)

Each :meth:`CollapseMonitor.update` measures the fakes against a fixed held-out real
reference set:

- ``coverage`` and ``density`` (Naeem et al. 2020) in the given feature space,
- ``modes``: modes holding at least ``mode_share`` of their expected share of the
  samples (where the modes are known: mixture centres, or mode labels per sample), plus
  PacGAN's count ``modes_any`` (>= 1 high-quality sample) and ``hq_pct``,
- ``diversity``: mean pairwise distance of the fakes / the same of real samples,
- D's real / fake accuracy, gradient norms and the losses (when given).

How it decides (the healthy levels are learned online):

- The figures that signal collapse are ``modes`` and ``diversity`` where the modes are
  known, ``coverage`` and ``diversity`` where they are not (with known modes, coverage
  mostly measures sample *quality*, which is not collapse; it is still reported).
- Each has a *learned* healthy level: the best level the run has **held for two readings
  in a row** (one lucky reading does not raise the bar; modes and diversity capped at
  what real data scores), and an *ideal* level: what real data of the same size scores
  (every known mode; coverage of one real half against the other; diversity 1).
- A reading is bad on a figure when, after ``warmup_steps``, the figure **fell** below
  its learned level by more than its tolerance (a mode lost, coverage down 25%, ...;
  only from a learned level of at least half the ideal one),
  or it is **stuck** below its ideal level (a known mode missing; coverage or diversity
  under half of real data's) while the run has made no progress for ``stall_steps`` (no
  mode count rise beyond its sampling noise, no clear rise of coverage, diversity or
  high-quality share), or, when
  ``total_steps`` is given, in the second half of the run, the figure's pace over the
  last ``stall_steps`` would not take it to that level by the end. A run still climbing
  fast enough towards all modes is not stuck; one that stopped, or crawls, is.
- A run that **never found the modes** (a mode count of at least one but under ``far_below``
  of real data's, a quarter by default) is stuck sooner: when its mode count has not risen
  beyond sampling noise for ``far_stall`` of ``stall_steps`` (half by default; whatever the
  other figures do, which wander on such a run), so the default callback confirms it by a
  quarter of the run.
- Progress of a mode count is a rise of more than ``progress_sigmas`` standard deviations of
  its sampling noise at its level (and at least one mode): a collapsed generator's count of
  2-30 of 1000 modes wanders by a few modes from check to check, which is no progress. Below
  ``far_below`` of real data's count a rise must also be ``far_progress`` of that count (5%
  by default): a plain run creeping from 5 to 19 of 1000 triples is still stuck.
- Persistence: the first bad reading opens an episode (``collapse_suspected``); the
  episode is confirmed (``collapse_confirmed``) at ``patience`` bad readings, and closed
  (``recovered``) by ``recover_after`` good readings in a row. One good reading between
  bad ones does not reset the count.
- A reading is *healthy* (a checkpoint taken then is safe to roll back to) when it is past
  the warm-up, no figure is bad or below its ideal level, and no episode is open.
- ``diverged`` on any non-finite loss, gradient norm or fake feature; ``d_overpowering``
  when D classifies both reals and fakes right at least ``d_overpower`` of the time for
  ``patience`` readings in a row.

Cost: one k-NN pass of (n fakes x N reference) per check; use a few hundred to 2,000
samples (``max_samples`` subsamples larger inputs for the k-NN figures; mode counts use
every sample, so data with many modes can be counted on several per mode).

Many modes (e.g. 1000 label triples): a generator that covers every mode but favours some
(frequencies spread by a log-normal factor, sigma ``uneven_sigma`` = 1) is not stuck; the
mode count it is judged against is the one expected of such a generator, when that is lower.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import special  # scipy.stats would add ~0.5 s to every command's start

from ..errors import ConfigError
from ..metrics import mode_coverage, prdc
from ..metrics.prdc import kth_nn_radius, pairwise_distances
from .events import (COLLAPSE_CONFIRMED, COLLAPSE_SUSPECTED, D_OVERPOWERING, DIVERGED, RECOVERED, Event,
                     Evidence)

#: figures that can signal collapse; all are "higher is better"
COLLAPSE_FIGURES = ("modes", "coverage", "diversity")
#: figures whose rise counts as progress (a run still improving is not stuck)
PROGRESS_FIGURES = (*COLLAPSE_FIGURES, "hq_pct")


@dataclass
class Reading:
    """What one check measured. ``figures`` maps a name to a float; ``bad`` holds the
    evidence for each figure that is away from its healthy level."""

    step: int
    figures: dict
    mode_counts: list[int] | None = None
    bad: list[Evidence] = field(default_factory=list)
    #: judged against the learned levels (past the warm-up)
    judged: bool = False
    #: judged, and no figure away from its learned or ideal level
    healthy: bool = False

    def to_dict(self) -> dict:
        """Its JSON form, one line of ``monitor.jsonl``: the step, the figures (rounded), the
        per-mode counts and the names of the bad figures where there are any."""
        out = {"step": self.step, **{k: _round(v) for k, v in self.figures.items()},
               "healthy": self.healthy, "judged": self.judged}
        if self.mode_counts is not None:
            out["mode_counts"] = self.mode_counts
        if self.bad:
            out["bad"] = [e.figure for e in self.bad]
        return out


def _round(v):
    if isinstance(v, float):
        return v if not math.isfinite(v) else round(v, 6)
    return v


def _as_2d(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x.detach().cpu() if torch.is_tensor(x) else x), dtype=torch.float64)
    if t.ndim == 0 or len(t) == 0:
        raise ConfigError(f"{name} must be a non-empty (n, ...) array")
    return t.reshape(len(t), -1)


def coverage_density(real: torch.Tensor, real_radius: torch.Tensor, fake: torch.Tensor, k: int,
                     chunk: int = 2048) -> dict:
    """Coverage and density of ``fake`` (m, d) against ``real`` (N, d) whose k-NN radii
    ``real_radius`` (N,) are precomputed; the same numbers as :func:`modeguard.metrics.prdc`
    when both sets are shifted by the reference mean first (as it does)."""
    inside = torch.zeros(len(fake))
    nearest_fake = torch.full((len(real),), float("inf"))
    for i in range(0, len(fake), chunk):
        d = pairwise_distances(fake[i:i + chunk], real)
        inside[i:i + chunk] = (d <= real_radius[None, :]).sum(1).float()
        nearest_fake = torch.minimum(nearest_fake, d.amin(0))
    return {"coverage": float((nearest_fake <= real_radius).float().mean()),
            "density": float(inside.sum() / (k * len(fake)))}


def mean_pairwise_distance(x: torch.Tensor, max_rows: int = 500) -> float:
    """Mean Euclidean distance between rows of ``x`` (n, d), on at most ``max_rows`` rows."""
    x = x[:max_rows]
    if len(x) < 2:
        return 0.0
    return float(torch.pdist(x).mean())


class CollapseMonitor:
    """Online collapse detector (see the module docstring for the rules).

    reference: (N, ...) real features, held out from training. centers: (K, d) mode centres
    in the same space (with ``std``: their standard deviation), or ``num_modes`` when the
    caller passes mode labels per fake to :meth:`update`. ``weights``: (K,) mode weights.
    """

    def __init__(self, reference, centers=None, std: float | None = None, weights=None, num_modes: int | None = None,
                 *, warmup_steps: int = 0, stall_steps: int = 0, total_steps: int | None = None,
                 pace_after: float = 0.5, patience: int = 3,
                 recover_after: int = 2, modes_tol: float = 0.05, coverage_tol: float = 0.25,
                 diversity_tol: float = 0.3, ideal_modes_tol: float = 0.03, ideal_tol: float = 0.5,
                 mode_share: float = 0.1, d_overpower: float = 0.95, k: int = 5, max_samples: int = 2000,
                 uneven_sigma: float = 1.0, far_below: float = 0.25, far_stall: float = 0.5,
                 far_progress: float = 0.05,
                 progress_sigmas: float = 3.0, seed: int = 0):
        self.reference = _as_2d(reference, "reference")
        if len(self.reference) <= 2 * (k + 1):
            raise ConfigError(f"reference needs more than {2 * (k + 1)} samples, got {len(self.reference)}")
        if centers is not None:
            centers = np.asarray(centers, dtype=np.float64)
            if centers.ndim != 2 or centers.shape[1] != self.reference.shape[1]:
                raise ConfigError(f"centers must be (K, {self.reference.shape[1]}) like the reference features, "
                                  f"got {centers.shape}")
            if std is None or not std > 0:
                raise ConfigError("std (the mixture's standard deviation) must be a positive number with centers")
            num_modes = len(centers)
        if num_modes is not None and num_modes < 1:
            raise ConfigError(f"num_modes must be >= 1, got {num_modes}")
        if patience < 1 or recover_after < 1:
            raise ConfigError("patience and recover_after must be >= 1")
        self.centers, self.std, self.num_modes = centers, std, num_modes
        self.weights = None
        if num_modes is not None:
            w = np.full(num_modes, 1.0 / num_modes) if weights is None else np.asarray(weights, dtype=np.float64)
            if w.shape != (num_modes,) or np.any(w < 0) or w.sum() <= 0:
                raise ConfigError(f"weights must be {num_modes} non-negative numbers")
            self.weights = w / w.sum()
        self.warmup_steps = int(warmup_steps)
        self.stall_steps = int(stall_steps)
        self.total_steps = int(total_steps) if total_steps else None
        self.pace_after = pace_after
        #: figures that can signal collapse (coverage only where the modes are unknown)
        self.triggers = ("modes", "diversity") if num_modes is not None else ("coverage", "diversity")
        self.patience, self.recover_after = int(patience), int(recover_after)
        self.tolerance = {"modes": modes_tol, "coverage": coverage_tol, "diversity": diversity_tol}
        self.ideal_modes_tol, self.ideal_tol = ideal_modes_tol, ideal_tol
        self.mode_share, self.d_overpower, self.k, self.max_samples = mode_share, d_overpower, k, max_samples
        self.uneven_sigma = float(uneven_sigma)
        self.far_below, self.far_stall, self.progress_sigmas = float(far_below), float(far_stall), float(progress_sigmas)
        self.far_progress = float(far_progress)
        self._gen = torch.Generator().manual_seed(seed)
        self._ref_spread = mean_pairwise_distance(self.reference[torch.randperm(len(self.reference),
                                                                                  generator=self._gen)])
        # the reference's k-NN balls are fixed: compute them once, not at every check; shift
        # by its mean like prdc does (float32 distances lose precision far from the origin)
        self._shift = self.reference.double().mean(0)
        self._ref_centred = (self.reference.double() - self._shift).float()
        self._ref_radius = kth_nn_radius(self._ref_centred, k, chunk=2048)
        half_a, half_b = self.reference[0::2], self.reference[1::2]
        self._ideal_coverage = prdc(half_a, half_b, k=k)["coverage"]
        self._ideal_modes: dict[int, float] = {}
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget everything learned (healthy levels, open episodes)."""
        self.best: dict[str, float] = {}
        self.progress_step: int | None = None  # when some figure last made real progress
        self.progress_ref: dict[str, float] = {}  # the levels that progress was measured from
        self.figure_progress: dict[str, int] = {}  # when each figure last made real progress
        self.held_history: list[tuple[int, dict]] = []  # (step, held levels) for the pace test
        self.last_values: dict[str, float] = {}  # the trigger figures of the last reading
        self.previous: dict[str, float] = {}
        self.episode: dict | None = None  # {"since", "bad", "good_streak", "confirmed"}
        self.figure_since: dict[str, int] = {}
        self.overpower_since: int | None = None
        self.overpower_count = 0
        self.overpower_raised = False
        self.diverged = False
        self.quiet_until = -1
        self.last: Reading | None = None
        #: the latest readings as dicts (bounded, for plotting in a hand-written loop)
        self.history: deque = deque(maxlen=100_000)

    def state_dict(self) -> dict:
        """JSON-serialisable state (the learned levels and any open episode)."""
        return {"best": dict(self.best), "progress_step": self.progress_step,
                "progress_ref": dict(self.progress_ref), "previous": dict(self.previous),
                "figure_progress": dict(self.figure_progress),
                "held_history": [[st, dict(h)] for st, h in self.held_history],
                "last_values": dict(self.last_values),
                "episode": dict(self.episode) if self.episode else None, "figure_since": dict(self.figure_since),
                "overpower_since": self.overpower_since, "overpower_count": self.overpower_count,
                "overpower_raised": self.overpower_raised, "diverged": self.diverged,
                "quiet_until": self.quiet_until}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (the learned levels, the open episode, the counters)."""
        self.reset()
        self.best = {k: float(v) for k, v in state.get("best", {}).items()}
        self.progress_step = state.get("progress_step")
        self.progress_ref = {k: float(v) for k, v in state.get("progress_ref", {}).items()}
        self.figure_progress = {k: int(v) for k, v in state.get("figure_progress", {}).items()}
        self.held_history = [(int(st), {k: float(v) for k, v in h.items()}) for st, h in state.get("held_history", [])]
        self.last_values = {k: float(v) for k, v in state.get("last_values", {}).items()}
        self.previous = {k: float(v) for k, v in state.get("previous", {}).items()}
        self.episode = dict(state["episode"]) if state.get("episode") else None
        self.figure_since = {k: int(v) for k, v in state.get("figure_since", {}).items()}
        self.overpower_since = state.get("overpower_since")
        self.overpower_count = int(state.get("overpower_count", 0))
        self.overpower_raised = bool(state.get("overpower_raised", False))
        self.diverged = bool(state.get("diverged", False))
        self.quiet_until = int(state.get("quiet_until", -1))

    def quiet(self, until_step: int) -> None:
        """Raise no collapse alarm before ``until_step`` (e.g. while a healed run settles)."""
        self.quiet_until = int(until_step)
        self.episode = None
        self.figure_since.clear()

    @property
    def in_episode(self) -> bool:
        """A collapse episode is open (suspected or confirmed)."""
        return self.episode is not None

    @property
    def confirmed(self) -> bool:
        """The open episode has been confirmed as a collapse."""
        return bool(self.episode and self.episode.get("confirmed"))

    def healthy_levels(self) -> dict[str, float]:
        """The level each collapse figure is held to now."""
        return {name: self._learned_level(name, self._ideal(name)) for name in self.best}

    def _learned_level(self, name: str, ideal: float) -> float:
        # an over-spread early G must not set the diversity bar above real data's, nor a
        # lucky count the modes bar above all modes; the ideal coverage (one real half
        # against the other) is only a rough yardstick, so coverage is not capped
        return self.best[name] if name == "coverage" else min(self.best[name], ideal)

    # ------------------------------------------------------------------ measuring
    def measure(self, fake_features, fake_modes=None) -> tuple[dict, list[int] | None]:
        """Figures of one batch of fakes: ``(figures, per-mode counts or None)``."""
        fake = _as_2d(fake_features, "fake_features")
        if fake.shape[1] != self.reference.shape[1]:
            raise ConfigError(f"fake features have {fake.shape[1]} values per sample, the reference "
                              f"{self.reference.shape[1]}")
        if fake_modes is not None:
            fake_modes = np.asarray(fake_modes).reshape(-1)
            if len(fake_modes) != len(fake):
                raise ConfigError("fake_modes must give one mode label per fake sample")
        figures: dict = {"n": len(fake)}
        if not bool(torch.isfinite(fake).all()):
            figures["fake_finite"] = 0.0
            return figures, None
        # the k-NN figures on at most max_samples fakes (their cost); mode counts on all
        knn = fake
        if len(fake) > self.max_samples:
            knn = fake[torch.randperm(len(fake), generator=self._gen)[:self.max_samples]]
        figures.update(coverage_density(self._ref_centred, self._ref_radius,
                                        (knn.double() - self._shift).float(), self.k))
        figures["diversity"] = mean_pairwise_distance(knn) / max(self._ref_spread, 1e-12)
        counts = None
        if self.centers is not None:
            mc = mode_coverage(fake.double().numpy(), self.centers, self.std, self.weights)
            counts = np.asarray(mc["counts"])
            figures["modes_any"] = float(mc["modes"])
            figures["hq_pct"] = mc["hq_pct"]
        elif fake_modes is not None and self.num_modes is not None:
            labels = fake_modes[(fake_modes >= 0) & (fake_modes < self.num_modes)].astype(np.int64)
            counts = np.bincount(labels, minlength=self.num_modes)
            figures["modes_any"] = float((counts >= 1).sum())
        if counts is not None:
            figures["modes"] = float((counts >= self._alive_threshold(len(fake))).sum())
            return figures, counts.tolist()
        return figures, None

    def _alive_threshold(self, n: int) -> np.ndarray:
        """Samples a mode needs to count as alive: ``mode_share`` of its expected share (at least 1)."""
        return np.maximum(1.0, self.mode_share * n * self.weights)

    def _ideal(self, name: str, n: int | None = None) -> float:
        if name == "coverage":
            return self._ideal_coverage
        if name == "diversity":
            return 1.0
        n = n if n is not None else (self.last.figures.get("n") if self.last else self.max_samples)
        return self._ideal_mode_count(int(n))

    def _ideal_mode_count(self, n: int) -> float:
        """Expected alive-mode count of ``n`` real samples (binomial per mode)."""
        return self._mode_count_stats(n)[0]

    def _mode_count_noise(self, n: int) -> float:
        """Standard deviation of that count: ~0 with a few well-fed modes, ~15 when 1000 modes
        share 1000 samples (then each mode is alive by chance, and the count wanders)."""
        return self._mode_count_stats(n)[1]

    def _mode_count_stats(self, n: int) -> tuple[float, float, float]:
        """(expected alive count of n real samples, its standard deviation, the count expected
        of a generator whose mode frequencies are uneven by ``uneven_sigma``)."""
        if n not in self._ideal_modes:
            p_hit = self.weights
            if self.centers is not None:  # real samples beyond 3 std do not count as high quality
                p_hit = p_hit * special.chdtr(self.centers.shape[1], 9.0)  # chi2 cdf
            thr = np.ceil(self._alive_threshold(n))
            alive = special.bdtrc(thr - 1, n, p_hit)  # binomial P(X >= thr)
            # the uneven generator: each mode's frequency times a log-normal factor of mean 1
            # (Gauss-Hermite quadrature over the factor)
            z, w = np.polynomial.hermite_e.hermegauss(21)
            factor = np.exp(self.uneven_sigma * z - self.uneven_sigma ** 2 / 2)
            p_uneven = np.clip(p_hit[:, None] * factor[None, :], 0.0, 1.0)
            alive_uneven = special.bdtrc(thr[:, None] - 1, n, p_uneven) @ (w / w.sum())
            self._ideal_modes[n] = (round(float(alive.sum()), 3), float(np.sqrt(np.sum(alive * (1 - alive)))),
                                    float(alive_uneven.sum()))
        return self._ideal_modes[n]

    def _stuck_modes_threshold(self, ideal: float, n: int) -> float:
        """Below this a mode count is short of real data's: a mode missing (or ``ideal_modes_tol``
        of many), beyond sampling noise and what an uneven but complete generator scores."""
        _, noise, uneven = self._mode_count_stats(n)
        return min(ideal - self._modes_margin(ideal, self.ideal_modes_tol, n), uneven - 3.0 * noise)

    def _modes_progress_margin(self, level: float, n: int) -> float:
        """How far a mode count must rise above ``level`` to be progress: one mode, or
        ``progress_sigmas`` standard deviations of its sampling noise at that level. The noise
        is the binomial bound sqrt(c (1 - c/K)) of a count c of K modes, scaled by how noisy
        real data's own count is against the same bound (~1 with 1000 modes in 1000 samples,
        where every mode is alive by chance; ~0 with a few well-fed modes, where a mode more
        is a real one). Below ``far_below`` of real data's count, at least ``far_progress`` of it."""
        ideal, noise, _ = self._mode_count_stats(n)
        k = self.num_modes

        def bound(c: float) -> float:
            return math.sqrt(max(c, 0.0) * max(1.0 - c / k, 0.0))

        scale = min(1.0, noise / bound(ideal)) if bound(ideal) > 0 else 0.0
        margin = max(0.5, self.progress_sigmas * scale * bound(max(level, 1.0)))
        if level < self.far_below * ideal:  # off the floor only by a real share of the gap
            margin = max(margin, self.far_progress * ideal)
        return margin

    def _modes_margin(self, level: float, tol: float, n: int) -> float:
        """How far the mode count may sit below ``level`` before it is bad: one mode, ``tol``
        of them, or three standard deviations of its sampling noise, whichever is largest."""
        return max(0.5, tol * level, 3.0 * self._mode_count_noise(n))

    # ------------------------------------------------------------------ deciding
    def update(self, step: int, fake_features, d_real_acc: float | None = None, d_fake_acc: float | None = None,
               grad_norm_g: float | None = None, grad_norm_d: float | None = None, loss_d: float | None = None,
               loss_g: float | None = None, fake_modes=None) -> list[Event]:
        """Measure one batch of fakes (n, ...) at ``step`` and return the events it raises.

        ``fake_modes``: optional (n,) mode label per fake (with ``num_modes``).
        """
        step = int(step)
        figures, counts = self.measure(fake_features, fake_modes)
        extras = {"d_real_acc": d_real_acc, "d_fake_acc": d_fake_acc, "grad_norm_g": grad_norm_g,
                  "grad_norm_d": grad_norm_d, "loss_d": loss_d, "loss_g": loss_g}
        figures.update({k: float(v) for k, v in extras.items() if v is not None})
        return self.observe(step, figures, counts)

    def observe(self, step: int, figures: dict, mode_counts: list[int] | None = None) -> list[Event]:
        """Decide on figures measured elsewhere (what :meth:`update` does after measuring;
        also replays a run's ``monitor.jsonl``). ``figures`` needs ``n`` (fakes measured)."""
        step = int(step)
        reading = Reading(step, dict(figures), mode_counts)
        events = self._check_divergence(reading)
        if not self.diverged:
            events += self._check_collapse(reading)
            events += self._check_overpowering(reading)
        self.last = reading
        self.history.append(reading.to_dict())
        return events

    def _check_divergence(self, r: Reading) -> list[Event]:
        broken = [Evidence(name, r.figures[name], 0.0, 0.0, math.inf, r.step, "finite")
                  for name in ("loss_d", "loss_g", "grad_norm_g", "grad_norm_d")
                  if name in r.figures and not math.isfinite(r.figures[name])]
        if r.figures.get("fake_finite") == 0.0:
            broken.append(Evidence("fake samples", math.nan, 0.0, 0.0, math.inf, r.step, "finite"))
        if not broken:
            return []
        r.bad = broken
        if self.diverged:
            return []
        self.diverged = True
        what = ", ".join(e.describe().split(" since")[0] for e in broken)
        return [Event(DIVERGED, r.step, f"training diverged: {what}", broken, since=r.step)]

    def _collapse_evidence(self, r: Reading, alarms: bool) -> tuple[list[Evidence], list[Evidence]]:
        """(bad figures that raise alarms now, every figure that keeps the reading from being healthy)."""
        past_warmup = r.step >= self.warmup_steps
        raising, all_bad = [], []
        for name in self.triggers:
            if name not in r.figures:
                continue
            value = r.figures[name]
            ideal = self._ideal(name, int(r.figures["n"]))
            found, active = None, False
            # a fall counts only from a level that was healthy: below it, the figures of a
            # collapsed run wander, and the stuck test below speaks for them
            if past_warmup and name in self.best and self._learned_level(name, ideal) >= ideal * (1 - self.ideal_tol):
                healthy = self._learned_level(name, ideal)
                tol = self.tolerance[name]
                # one mode lost is a fall; with many modes, a few percent of them
                threshold = (healthy - self._modes_margin(healthy, tol, int(r.figures["n"])) if name == "modes"
                             else healthy * (1 - tol))
                if value < threshold - 1e-9:
                    found = Evidence(name, value, healthy, threshold, (healthy - value) / max(healthy, 1e-12),
                                     basis="learned")
                    active = True
            if found is None:
                threshold = (self._stuck_modes_threshold(ideal, int(r.figures["n"])) if name == "modes"
                             else ideal * (1 - self.ideal_tol))
                if value < threshold - 1e-9:
                    found = Evidence(name, value, ideal, threshold, (ideal - value) / max(ideal, 1e-12),
                                     basis="ideal")
                    stalled_since, window = self._stall_clock(name, value, ideal, r.step)
                    if past_warmup and r.step - stalled_since >= window:
                        active, found.note = True, f"no progress since step {stalled_since}"
                    elif past_warmup:
                        projected = self._projected(name, r.step)
                        if projected is not None and projected < threshold:
                            active = True
                            found.note = (f"at its pace it would reach {projected:.3g} by step {self.total_steps}")
            key = f"{name}/{found.basis}" if found is not None else None
            for k in [k for k in self.figure_since if k.startswith(name + "/") and k != key]:
                del self.figure_since[k]  # a figure back to health, or bad for another reason now
            if found is None:
                continue
            found.since = self.figure_since.setdefault(key, r.step)
            all_bad.append(found)
            if alarms and active:
                raising.append(found)
        return raising, all_bad

    def _stall_clock(self, name: str, value: float, ideal: float, step: int) -> tuple[int, float]:
        """(the step the stall is counted from, the steps of no progress that make it stuck).
        A mode count that never got off the floor (at least one mode, under ``far_below`` of
        real data's) answers for itself, over the shorter ``far_stall`` window."""
        if name == "modes" and 1.0 <= value < self.far_below * ideal:
            return self.figure_progress.get("modes", step), self.far_stall * self.stall_steps
        return (self.progress_step if self.progress_step is not None else step), self.stall_steps

    def _projected(self, name: str, step: int) -> float | None:
        """Where the figure's held level gets by the end of the run at its pace over the last
        ``stall_steps`` (None before the second half of a run of known length)."""
        if not self.total_steps or step < self.pace_after * self.total_steps or not self.held_history:
            return None
        window = max(self.stall_steps, 1)
        now_step, now = self.held_history[-1]  # this reading's
        if name not in now:
            return None
        then_step, then = next(((st, h) for st, h in reversed(self.held_history) if st <= step - window),
                               self.held_history[0])
        # a figure still at zero has not started climbing (a slow start, e.g. no mode with
        # its share yet): there is no pace to extrapolate, the no-progress test speaks for it
        if name not in then or now_step <= then_step or now[name] <= 0:
            return None
        pace = max(0.0, (now[name] - then[name]) / (now_step - then_step))
        return now[name] + pace * max(0, self.total_steps - step)

    def _learn(self, r: Reading) -> None:
        """Raise learned levels to what the run held for two readings in a row, and restart
        the stall clock when any figure made real progress (a mode count beyond its sampling
        noise, or +5% and +0.02)."""
        for name in PROGRESS_FIGURES:
            if name not in r.figures:
                continue
            value = r.figures[name] / (100.0 if name == "hq_pct" else 1.0)
            if name == "diversity":
                value = min(value, 1.0)  # spreading wider than real data is no progress
            if name in self.previous:
                held = min(value, self.previous[name])
                if name in COLLAPSE_FIGURES:
                    self.best[name] = max(self.best.get(name, -math.inf), held)
                ref = self.progress_ref.get(name)
                margin = (self._modes_progress_margin(ref or 0.0, int(r.figures["n"])) if name == "modes"
                          else max(0.05 * abs(ref or 0.0), 0.02))
                if ref is None or held > ref + margin:
                    self.progress_ref[name] = held
                    self.progress_step = self.figure_progress[name] = r.step
            self.previous[name] = value
        if self.progress_step is None:
            self.progress_step = r.step

    def _record_held(self, r: Reading) -> None:
        """Keep (step, held level) of the trigger figures over the pace window: the held level
        is the lower of this reading and the one before (one lucky reading is no pace)."""
        if not self.total_steps:
            return
        current = {n: r.figures[n] for n in self.triggers if n in r.figures}
        held = {n: min(v, self.last_values.get(n, v)) for n, v in current.items()}
        self.last_values = current
        if held:
            self.held_history.append((r.step, held))
        while len(self.held_history) > 2 and self.held_history[1][0] <= r.step - max(self.stall_steps, 1):
            self.held_history.pop(0)

    def _check_collapse(self, r: Reading) -> list[Event]:
        self._record_held(r)
        alarms = r.step >= self.quiet_until
        raising, all_bad = self._collapse_evidence(r, alarms)
        r.bad = all_bad
        r.judged = r.step >= self.warmup_steps
        r.healthy = r.judged and not all_bad and not self.in_episode
        if not raising:
            self._learn(r)
        events: list[Event] = []
        ep = self.episode
        if raising:
            if ep is None:
                since = min(e.since for e in raising)
                self.episode = ep = {"since": since, "bad": 0, "good_streak": 0, "confirmed": False}
                events.append(Event(COLLAPSE_SUSPECTED, r.step, "collapse suspected: " + _describe(raising),
                                    raising, since=since))
            ep["bad"] += 1
            ep["good_streak"] = 0
            if not ep["confirmed"] and ep["bad"] >= self.patience:
                ep["confirmed"] = True
                events.append(Event(COLLAPSE_CONFIRMED, r.step,
                                    f"collapse confirmed ({ep['bad']} bad checks): " + _describe(raising),
                                    raising, since=ep["since"]))
        elif ep is not None:
            ep["good_streak"] += 1
            if ep["good_streak"] >= self.recover_after:
                levels = self.healthy_levels()
                evidence = [Evidence(n, r.figures[n], levels[n], levels[n], 0.0, r.step, "learned")
                            for n in COLLAPSE_FIGURES if n in r.figures and n in levels]
                what = "collapse" if ep["confirmed"] else "suspected collapse"
                events.append(Event(RECOVERED, r.step, f"recovered from the {what} since step {ep['since']}: "
                                    + ", ".join(f"{e.figure} {_fmt(e.value)}" for e in evidence),
                                    evidence, since=ep["since"], details={"confirmed": ep["confirmed"]}))
                self.episode = None
                r.healthy = r.judged and not all_bad
        return events

    def _check_overpowering(self, r: Reading) -> list[Event]:
        acc = [r.figures.get("d_real_acc"), r.figures.get("d_fake_acc")]
        if None in acc:
            return []
        # D wins outright in the first steps of most runs, before G has learned anything:
        # like the collapse alarms, this one waits for the warm-up to end
        if min(acc) >= self.d_overpower and r.step >= self.warmup_steps:
            self.overpower_count += 1
            if self.overpower_since is None:
                self.overpower_since = r.step
            if self.overpower_count >= self.patience and not self.overpower_raised:
                self.overpower_raised = True
                value = (acc[0] + acc[1]) / 2
                ev = Evidence("d_accuracy", value, self.d_overpower, self.d_overpower, value - self.d_overpower,
                              self.overpower_since, "bound")
                return [Event(D_OVERPOWERING, r.step,
                              f"D overpowers G: it tells reals ({acc[0]:.0%}) and fakes ({acc[1]:.0%}) apart "
                              f"since step {self.overpower_since}; G's gradients may vanish", [ev],
                              since=self.overpower_since)]
        else:
            self.overpower_count, self.overpower_since, self.overpower_raised = 0, None, False
        return []


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.3g}"


def _describe(evidence: list[Evidence]) -> str:
    return "; ".join(e.describe() for e in evidence)
