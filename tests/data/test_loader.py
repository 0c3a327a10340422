"""Real batches from worker processes (--loader-workers): the order depends on the seed and the
batch number only; a run trains and resumes with workers; bad values are one line, exit 2."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from modeguard.cli import main
from modeguard.data.images import load_digits_set, pixels_to_model_space
from modeguard.data.loader import BatchLoader, batch_indices
from modeguard.train import load_checkpoint

CPU = torch.device("cpu")


def _batches(loader, k):
    return [loader.next(CPU) for _ in range(k)]


def test_batches_depend_on_the_seed_and_their_number_only():
    data = load_digits_set()
    one = _batches(BatchLoader(data, seed=3, batch_size=8, workers=1), 4)
    two = BatchLoader(data, seed=3, batch_size=8, workers=2)
    for a, b in zip(one, _batches(two, 4)):
        assert torch.equal(a, b)
    assert two.position == 4
    assert torch.equal(one[1], pixels_to_model_space(data.pixels(batch_indices(3, 1, data.train_size, 8))))
    two.seek(2)  # a resume: the workers read on from batch 2
    assert torch.equal(two.next(CPU), one[2])
    rows = BatchLoader(data, seed=3, batch_size=8, workers=1, rows=(4, 8))  # a torchrun rank's share
    assert torch.equal(rows.next(CPU), one[0][4:])
    other = BatchLoader(data, seed=4, batch_size=8, workers=1).next(CPU)
    assert not torch.equal(other, one[0])


@pytest.fixture
def png_folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i in range(30):
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    return folder


def _train(folder, out, *flags):
    return main(["train", "--data", f"images:{folder}@8", "--strategy", "none", "--batch-size", "8",
                 "--ckpt-every", "3", "--log-every", "3", "--sample-every", "1000", "--eval-samples", "20",
                 "--no-progress", "--out", str(out), *flags])


def test_a_run_with_two_workers_trains_and_resumes_as_if_never_stopped(png_folder, tmp_path):
    assert _train(png_folder, tmp_path / "whole", "--steps", "6", "--loader-workers", "2") == 0
    assert _train(png_folder, tmp_path / "part", "--steps", "3", "--loader-workers", "2") == 0
    assert main(["train", "--resume", str(tmp_path / "part"), "--steps", "6", "--no-progress"]) == 0
    whole = load_checkpoint(tmp_path / "whole/checkpoints/step-00000006.pt")
    part = load_checkpoint(tmp_path / "part/checkpoints/step-00000006.pt")
    assert whole["data_batches"] == part["data_batches"] == 6
    for net in ("G", "D"):
        for k in whole[net]:
            assert torch.equal(whole[net][k], part[net][k]), k
    assert "loader_workers: 2" in (tmp_path / "part/config.yaml").read_text()
    assert json.loads((tmp_path / "part/eval.json").read_text())["n"] == 20


@pytest.mark.parametrize("flags, says", [
    (["--loader-workers", "-1"], "loader_workers must be an integer >= 0, got -1"),
    (["--loader-workers", "2", "--data", "ring8"], "loader_workers applies to image sets"),
])
def test_bad_loader_settings_are_one_line_exit_2(png_folder, tmp_path, capsys, flags, says):
    assert _train(png_folder, tmp_path / "run", "--steps", "2", *flags) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err
    assert not (tmp_path / "run").exists()
