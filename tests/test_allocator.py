"""The CPU allocator setting: applied on glibc, skipped on request."""
import ctypes
import sys

import pytest

from modeguard import allocator


def test_opt_out_leaves_the_allocator_alone(monkeypatch):
    monkeypatch.setenv(allocator.ENV, "system")
    calls = []
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: calls.append(a))
    assert allocator._apply() is False
    assert calls == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_thresholds_are_accepted_by_glibc(monkeypatch):
    monkeypatch.delenv(allocator.ENV, raising=False)
    assert allocator._apply() is True  # mallopt returns 0 for a value out of its range


def test_applied_once_per_process(monkeypatch):
    calls = []
    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setattr(allocator, "_apply", lambda: calls.append(1) or True)
    assert allocator.keep_freed_memory() and allocator.keep_freed_memory()
    assert calls == [1]


def test_a_cpu_run_applies_it(monkeypatch):
    from modeguard.config import TrainConfig
    from modeguard.train import Trainer

    calls = []
    monkeypatch.setattr("modeguard.train.assembly.keep_freed_memory", lambda: calls.append(1))
    Trainer(TrainConfig(data="ring8", steps=1, device="cpu", progress=False))
    assert calls == [1]
