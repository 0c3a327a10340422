"""Anti-collapse remedies as plain functions and small objects with explicit state.

Use them in your own training loop, LightningModule or anything else; ModeGuard's
strategies are thin wrappers that wire these same pieces into the trainer's phases.

========================  ==================================================================
penalties                 :func:`r1_penalty`, :func:`r1_penalty_at`, :func:`gradient_penalty`, :func:`wgan_gp_penalty`,
                          :func:`interpolate`
weight averaging          :class:`EMA`
D's accuracy              :func:`d_accuracy` (the one definition logs, monitor and adaptive-lr share)
what D sees               :func:`add_instance_noise`, :func:`annealed_sigma`,
                          :func:`label_smoothing_term`
learning rates            :func:`schedule_factor`, :func:`set_lr_factor`, :func:`set_base_lr`,
                          :func:`apply_ttur`, :func:`ttur_adam`, :class:`AdaptiveLRController`
layers for your D         :mod:`modeguard.nn` (``MinibatchStdDev``, ``MinibatchDiscrimination``)
========================  ==================================================================
"""
from __future__ import annotations

from .ema import EMA
from .lr import (AdaptiveLRController, apply_ttur, base_lr, schedule_factor, set_base_lr, set_lr_factor,
                 ttur_adam)
from .noise import add_instance_noise, annealed_sigma, label_smoothing_term
from .accuracy import d_accuracy
from .penalties import gradient_penalty, interpolate, r1_penalty, r1_penalty_at, wgan_gp_penalty

__all__ = ["d_accuracy", "EMA", "AdaptiveLRController", "add_instance_noise", "annealed_sigma", "apply_ttur", "base_lr",
           "gradient_penalty", "interpolate", "label_smoothing_term", "r1_penalty", "r1_penalty_at", "schedule_factor",
           "set_base_lr", "set_lr_factor", "ttur_adam", "wgan_gp_penalty"]
