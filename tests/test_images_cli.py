"""Image runs end to end through the CLI: train, snapshots, sample (.npy + PNG), eval."""
import json

import numpy as np

from modeguard.cli import main
from modeguard.config import TrainConfig
from modeguard.train import Trainer


def test_stacked_digits_dcgan_through_the_cli(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--data", "stacked-digits", "--model", "dcgan", "--steps", "4", "--batch-size", "16",
               "--eval-samples", "300", "--sample-every", "2", "--out", str(out), "--no-progress",
               "--strategy", "r1:gamma=0.1,ema"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "modes=" in printed and "fd_clf=" in printed and "classifier_acc=" in printed
    assert (out / "final_samples.png").stat().st_size > 1000
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step-00000002.png", "step-00000004.png"]
    result = json.loads((out / "eval.json").read_text())
    assert 1 <= result["modes"] <= 300 and result["n"] == 300 and result["classifier_acc"] >= 0.97

    assert main(["sample", str(out), "-n", "30", "-o", str(tmp_path / "s.npy")]) == 0
    arr = np.load(tmp_path / "s.npy")
    assert arr.shape == (30, 3, 8, 8) and 0 <= arr.min() and arr.max() <= 1
    assert (tmp_path / "s.png").stat().st_size > 500

    capsys.readouterr()
    assert main(["eval", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["modes"] == result["modes"] and again["kl"] == result["kl"]


def test_unknown_image_data_is_a_one_line_error(capsys, tmp_path):
    rc = main(["train", "--data", f"mnist:{tmp_path / 'absent'}", "--steps", "1", "--out", str(tmp_path / "r")])
    assert rc == 2
    assert "MNIST-format folder not found" in capsys.readouterr().err


def test_seed_mlp_trains_on_784_pixel_images(tmp_path):
    from tests.data.idx_files import write_mnist_folder

    folder = write_mnist_folder(tmp_path / "m", n_train=40, n_test=10)
    config = TrainConfig(data=f"mnist:{folder}", model="seed-mlp", strategies="none", steps=2, batch_size=8,
                         progress=False)
    trainer = Trainer(config)
    for _ in range(2):
        trainer.train_step()
    samples = trainer.sample(4)
    assert samples.shape == (4, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
