"""The Lightning callback (its training tests need the optional 'lightning' extra)."""
import importlib
import importlib.util

import pytest
import torch

from modeguard.data import resolve_data

HAS_LIGHTNING = importlib.util.find_spec("lightning") is not None
needs_lightning = pytest.mark.skipif(not HAS_LIGHTNING, reason="needs the optional 'lightning' extra")

if HAS_LIGHTNING:
    import lightning.pytorch as pl

    from modeguard.monitor.lightning import CollapseMonitorCallback

    class TinyGAN(pl.LightningModule):
        """A generator trained on a dummy loss; ``sample`` collapses to mode 0 after step 20."""

        def __init__(self, data):
            super().__init__()
            self.G = torch.nn.Linear(4, 2)
            self.data = data
            self.rng = torch.Generator().manual_seed(0)

        def training_step(self, batch, batch_idx):
            loss = self.G(batch).pow(2).mean()
            self.log("loss_g", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

        def sample(self, n):
            x = self.data.sample(n, self.rng)
            if self.trainer.global_step >= 20:
                m = self.data.modes
                x = torch.as_tensor(m.centers[0], dtype=torch.float32) + m.std * torch.randn(n, 2, generator=self.rng)
            return x


def _fit(tmp_path, on_collapse):
    data = resolve_data("ring8")
    cb = CollapseMonitorCallback(data.reference(500, seed=1), every_n_steps=5, n_samples=400, on_collapse=on_collapse,
                                 events_path=tmp_path / "events.jsonl", centers=data.modes.centers,
                                 std=data.modes.std, warmup_steps=5)
    loader = torch.utils.data.DataLoader(torch.randn(64 * 8, 4), batch_size=8)
    trainer = pl.Trainer(max_steps=60, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[cb], accelerator="cpu", max_epochs=10)
    trainer.fit(TinyGAN(data), loader)
    return trainer, cb


@needs_lightning
def test_lightning_callback_reports_collapse(tmp_path):
    trainer, cb = _fit(tmp_path, "warn")
    kinds = [e.kind for e in cb.events]
    assert kinds == ["collapse_suspected", "collapse_confirmed"]
    assert cb.events[1].step == 30 and cb.events[1].evidence[0].figure == "modes"
    assert "loss_g" in cb.monitor.last.figures
    assert (tmp_path / "events.jsonl").read_text().count("\n") == 2
    assert trainer.global_step == 60


@needs_lightning
def test_lightning_callback_stops(tmp_path):
    trainer, cb = _fit(tmp_path, "stop")
    assert trainer.global_step == 30 and cb.events[-1].kind == "collapse_confirmed"


@pytest.mark.skipif(HAS_LIGHTNING, reason="only without the optional 'lightning' extra")
def test_without_lightning_the_import_says_how_to_install():
    with pytest.raises(ImportError, match=r"pip install 'modeguard\[lightning\]'"):
        importlib.import_module("modeguard.monitor.lightning")
