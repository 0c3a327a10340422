"""Label-free image encoders: deterministic, they see collapse, the trained one is cached by the data's hash."""
import numpy as np
import pytest

from modeguard.data.images import ImageSet, load_digits_set
from modeguard.errors import DataError
from modeguard.monitor import CollapseMonitor
from modeguard.monitor.encoders import (encoder_cache_path, load_encoder, random_conv_encoder, train_encoder,
                                        trained_encoder)
from modeguard.monitor.features import LABEL_FREE_SPACES

STEPS = 40  # a short training: these tests check the plumbing, benchmarks/unlabelled.py the quality


def unlabelled_digits(name="digits-unlabelled", flip=False) -> ImageSet:
    """scikit-learn's digits with the labels dropped (optionally mirrored: other data)."""
    d = load_digits_set()
    tr, te = d.train_images, d.test_images
    if flip:
        tr, te = tr[..., ::-1].copy(), te[..., ::-1].copy()
    return ImageSet(name, tr, None, te, None)


@pytest.fixture(scope="module")
def data():
    return unlabelled_digits()


def test_random_conv_is_deterministic_for_a_seed(data):
    x = data.reference(50, seed=1)
    a = random_conv_encoder(data, seed=3).encode(x)
    b = random_conv_encoder(data, seed=3).encode(x)
    c = random_conv_encoder(data, seed=4).encode(x)
    assert a.shape == (50, random_conv_encoder(data, seed=3).mean.shape[0])
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_trained_encoder_is_deterministic_for_a_seed(data):
    x = data.reference(50, seed=1)
    a = train_encoder(data, steps=STEPS, seed=0, progress=False).encode(x)
    b = train_encoder(data, steps=STEPS, seed=0, progress=False).encode(x)
    assert a.shape == (50, 64) and np.allclose(a, b, atol=1e-5)


def test_trained_encoder_round_trips_through_its_cache_file(data, tmp_path):
    enc = trained_encoder(data, cache=tmp_path, steps=STEPS, progress=False)
    path = encoder_cache_path(data, tmp_path, steps=STEPS)
    assert enc.path == path and path.is_file()
    assert data.checksum()[:16] in path.name
    loaded = load_encoder(path, data.shape)
    x = data.reference(30, seed=2)
    assert np.allclose(loaded.encode(x), enc.encode(x), atol=1e-6)
    assert load_encoder(path, (3, 8, 8)) is None  # another image shape: a cache miss
    assert trained_encoder(data, cache=tmp_path, steps=STEPS, progress=False).encode(x).shape == (30, 64)


def test_cache_is_keyed_by_the_data_hash(data, tmp_path):
    other = unlabelled_digits(flip=True)
    assert other.checksum() != data.checksum()
    assert encoder_cache_path(other, tmp_path) != encoder_cache_path(data, tmp_path)
    assert encoder_cache_path(unlabelled_digits(), tmp_path) == encoder_cache_path(data, tmp_path)


def test_a_corrupt_cache_file_is_a_miss(data, tmp_path):
    path = encoder_cache_path(data, tmp_path, steps=STEPS)
    path.write_bytes(b"not a safetensors file")
    assert load_encoder(path, data.shape) is None
    trained_encoder(data, cache=tmp_path, steps=STEPS, progress=False)  # retrains and rewrites it
    assert load_encoder(path, data.shape) is not None


@pytest.mark.parametrize("name", sorted(LABEL_FREE_SPACES))
def test_every_label_free_space_sees_coverage_drop_on_a_collapsed_set(name, data, monkeypatch, tmp_path):
    monkeypatch.setenv("MODEGUARD_CACHE", str(tmp_path))
    monkeypatch.setattr("modeguard.monitor.encoders.TRAIN_STEPS", STEPS)
    space = LABEL_FREE_SPACES[name](data)
    reference, labels = space.featurize(data.reference(300, seed=7))
    # binned spaces label each image with its pseudo-mode; the others know no modes
    assert labels is None if space.num_modes is None else (labels.min() >= 0 and labels.max() < space.num_modes)
    mon = CollapseMonitor(reference)
    rng = np.random.default_rng(0)
    diverse = data.train_images[rng.choice(len(data.train_images), 300, replace=False)] / 255.0
    collapsed = np.repeat(diverse[:5], 60, axis=0)  # five images over and over
    cov_diverse = mon.measure(space.featurize(diverse)[0])[0]["coverage"]
    cov_collapsed = mon.measure(space.featurize(collapsed)[0])[0]["coverage"]
    assert cov_diverse > 0.7 and cov_collapsed < 0.5 * cov_diverse


def test_points_are_refused_with_a_one_line_error():
    class Flat:
        shape, name = (64,), "flat"

    with pytest.raises(DataError, match="square"):
        random_conv_encoder(Flat())
