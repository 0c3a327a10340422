"""Property-based fuzzing (Hypothesis) of what users hand ModeGuard: config mappings, strategy
strings, data files and checkpoints. The only outcomes allowed: it works, or a
ModeGuardError whose message is one line."""
import io
import math
from dataclasses import fields

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeguard.config import TrainConfig
from modeguard.data.points import load_points
from modeguard.errors import ModeGuardError
from modeguard.strategies import parse_strategies, registry
from modeguard.train.checkpoint import load_checkpoint, save_checkpoint

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
#: no example database: the tests leave nothing behind in the working tree
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
KEYS = [f.name for f in fields(TrainConfig)]

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70), st.floats(),
                    st.text(max_size=12), st.sampled_from(["ring8", "grid25", "auto", "cpu", "none", "default", "ns",
                                                           "mlp", "r1:gamma=1,ema", "heal", "1e-4", "nan"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=8)


def allowed(call):
    """Run ``call``; a ModeGuardError must be one line. Anything else raised fails the test."""
    try:
        return call()
    except ModeGuardError as e:
        assert "\n" not in str(e) and str(e).strip(), repr(e)
        return None


@FUZZ
@given(st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6), st.integers()), values, max_size=6))
def test_config_mappings(d):
    def build():
        config = TrainConfig.from_dict(d).resolve().for_kind("points")
        config.validate()
        parse_strategies(config.strategies)
        return TrainConfig.from_dict(config.to_dict())

    allowed(build)


option_text = st.text(alphabet="r1:gamma=,.ema0123456789nanifx-+e_ ", max_size=30)


@FUZZ
@given(st.one_of(option_text, st.lists(st.sampled_from(sorted(registry())), max_size=4).map(",".join),
                 st.tuples(st.sampled_from(sorted(registry())), option_text).map(":".join)))
def test_strategy_strings(text):
    result = allowed(lambda: parse_strategies(text))
    for s in result or ():
        for v in s.opts.values():
            assert not (isinstance(v, float) and not math.isfinite(v))


arrays = st.builds(lambda shape, fill, dtype: np.full(shape, fill).astype(dtype),
                   st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple),
                   st.sampled_from([0.0, 1.5, np.nan, np.inf, -1.0]), st.sampled_from(["float64", "int64", "U3"]))


@FUZZ
@given(suffix=st.sampled_from([".npy", ".npz", ".csv", ".txt"]), raw=st.binary(max_size=300),
       points=arrays, std=arrays, use_raw=st.booleans())
def test_data_files(tmp_path_factory, suffix, raw, points, std, use_raw):
    path = tmp_path_factory.mktemp("data") / f"points{suffix}"
    if use_raw:
        path.write_bytes(raw)
    elif suffix == ".npz":
        np.savez(path, points=points, centers=np.zeros((1, points.shape[1] if points.ndim == 2 else 2)), std=std)
    elif suffix == ".npy":
        np.save(path, points)
    else:
        path.write_text("\n".join(",".join(map(str, np.atleast_1d(r))) for r in np.atleast_2d(points)))
    data = allowed(lambda: load_points(path))
    if data is not None:
        assert torch.isfinite(data.sample(8, torch.Generator().manual_seed(0))).all()


def _checkpoint_bytes() -> bytes:
    buf = io.BytesIO()
    torch.save({"format": 2, "step": 3, "G": {"w": torch.ones(3)}, "strategies": {}}, buf)
    return buf.getvalue()


GOOD = _checkpoint_bytes()


@FUZZ
@given(st.one_of(st.binary(max_size=400),
                 st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)).map(
                     lambda p: GOOD[:p[0]] + bytes([p[1]]) + GOOD[p[0] + 1:]),
                 st.integers(0, len(GOOD)).map(lambda n: GOOD[:n])))
def test_checkpoint_bytes(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("ckpt") / "step-00000003.pt"
    path.write_bytes(content)
    allowed(lambda: load_checkpoint(path))


@FUZZ
@given(st.dictionaries(st.sampled_from(["format", "step", "G", "D", "opt_g", "opt_d", "rng", "torch_rng",
                                        "strategies", "callbacks", "total_steps"]),
                       st.one_of(st.integers(-5, 5), st.text(max_size=3), st.just(torch.ones(2)),
                                 st.just(torch.zeros(3, dtype=torch.uint8)), st.just({"w": torch.ones(1)}),
                                 st.just({"state": {}, "param_groups": []}), st.just([])), max_size=11))
def test_checkpoint_contents(tmp_path_factory, state):
    path = tmp_path_factory.mktemp("ckpt") / "step-00000001.pt"
    save_checkpoint(path, state)
    allowed(lambda: load_checkpoint(path))
