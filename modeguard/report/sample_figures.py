"""Sample figures during training: a picture at every snapshot and of the final generator."""
from __future__ import annotations

from ..train.callbacks import Callback
from .plots import save_samples_figure


class SampleFigures(Callback):
    """Draws ``samples/step-N.png`` at each of the trainer's snapshots (scatter plots or
    image grids by the data's kind) and ``final_samples.png`` when training ends. Writes
    nothing for a trainer without a run directory."""

    def on_step_end(self, trainer) -> None:
        """Draw the snapshot the trainer took at this step, if it took one."""
        snap = trainer.snapshot
        if trainer.run is None or snap is None or snap[0] != trainer.ctx.step:
            return
        step, samples = snap
        save_samples_figure(trainer.ctx.data, samples, trainer.run.sample_path(step), f"step {step}")

    def on_fit_end(self, trainer, result: dict) -> None:
        """Draw the final generator's samples."""
        if trainer.run is None:
            return
        samples = trainer.sample_model_space(trainer.config.eval_samples, seed=0)
        save_samples_figure(trainer.ctx.data, samples, trainer.run.final_samples, f"step {trainer.ctx.step}")
