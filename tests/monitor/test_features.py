"""Feature spaces: raw values for points, the mode classifier's features and labels for
labelled images, a label-free space for unlabelled ones."""
import numpy as np
import torch

from modeguard.data import resolve_data
from modeguard.data.images import ImageSet, load_digits_set
from modeguard.data.user import from_array
from modeguard.monitor import CollapseMonitor
from modeguard.monitor.features import LABEL_FREE_SPACES, UNLABELLED_IMAGE_SPACE, binned, feature_space, pixel_space


def test_points_use_raw_values_and_the_mixture_centres():
    data = resolve_data("grid25")
    space = feature_space(data)
    x = data.reference(10)
    feats, labels = space.featurize(x)
    assert np.array_equal(feats, x) and labels is None
    assert space.monitor_kwargs()["centers"].shape == (25, 2)
    assert space.mode_name(0) == "mode 0 at (-4.00, -4.00)"


def test_stacked_images_use_classifier_features_and_label_triples():
    data = resolve_data("stacked-digits")
    space = feature_space(data)
    assert space.name == "mode classifier" and space.num_modes == 1000
    ref, ref_modes = space.featurize(data.reference(600, seed=3))
    assert ref.shape[0] == 600 and ref_modes.shape == (600,) and ref_modes.max() < 1000
    mon = CollapseMonitor(ref, **space.monitor_kwargs(), warmup_steps=100, stall_steps=10**6)
    gen = torch.Generator().manual_seed(4)
    events = []
    for step in range(100, 701, 100):
        x = data.to_data_space(data.sample(300, gen))
        if step >= 500:
            x = np.repeat(x[:3], 100, axis=0)  # three images over and over: a collapsed G
        feats, modes = space.featurize(x)
        events += mon.update(step, feats, fake_modes=modes)
    assert [e.kind for e in events] == ["collapse_suspected", "collapse_confirmed"]
    assert events[1].step == 700 and events[1].evidence[0].figure == "modes"
    assert events[1].evidence[0].value <= 3


def test_unlabelled_images_get_the_benchmarked_label_free_space(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEGUARD_CACHE", str(tmp_path))
    digits = load_digits_set()
    data = ImageSet("digits-unlabelled", digits.train_images, None, digits.test_images, None)
    space = feature_space(data)
    assert UNLABELLED_IMAGE_SPACE in LABEL_FREE_SPACES
    assert UNLABELLED_IMAGE_SPACE == "pixel bins" and space.name.startswith("raw pixels, ")
    feats, labels = space.featurize(data.reference(20, seed=1))
    assert feats.shape[0] == 20 and labels.shape == (20,) and labels.max() < space.num_modes
    assert space.monitor_kwargs()["num_modes"] == space.num_modes


def test_in_memory_images_without_labels_never_need_the_mode_classifier(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEGUARD_CACHE", str(tmp_path))
    images = np.random.default_rng(0).random((60, 1, 8, 8)).astype(np.float32)
    space = feature_space(from_array(images, name="mine"))
    assert space.name.startswith("raw pixels") and space.num_modes == 2  # 60 images: bins of >= 20
    assert not any(p.name.startswith("mode-classifier") for p in tmp_path.iterdir())


def test_binned_space_gives_pseudo_modes_that_catch_a_generator_keeping_two_digits():
    digits = load_digits_set()
    data = ImageSet("digits-unlabelled", digits.train_images, None, digits.test_images, None)
    space = binned(pixel_space, bins=40)(data)
    assert space.num_modes == 40 and abs(space.weights.sum() - 1) < 1e-9
    ref, ref_bins = space.featurize(data.reference(500, seed=1))
    assert ref_bins.min() >= 0 and ref_bins.max() < 40
    pixels = digits.train_images.astype(np.float32) / 255.0
    two = pixels[np.isin(digits.train_labels, [0, 1])]  # sharp, real images of two of ten classes
    rng = np.random.default_rng(0)
    verdicts = {}
    for name, pool in (("healthy", pixels), ("two digits", two)):
        mon = CollapseMonitor(ref, **space.monitor_kwargs(), warmup_steps=100, stall_steps=300)
        events = []
        for i in range(12):
            feats, bins_ = space.featurize(pool[rng.integers(len(pool), size=500)])
            events += mon.update(100 * (i + 1), feats, fake_modes=bins_)
        verdicts[name] = [e.kind for e in events]
    assert "collapse_confirmed" not in verdicts["healthy"]
    assert "collapse_confirmed" in verdicts["two digits"]
