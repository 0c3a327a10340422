"""Pictures and reports of runs and benchmarks.

- :mod:`.mpl`: the one matplotlib set-up (Agg backend) every drawing module imports.
- :mod:`.images` / :mod:`.plots`: sample pictures (image grids, scatter plots) per data kind.
- :mod:`.sample_figures`: the callback that draws them during training.
- :mod:`.data` -> :mod:`.figures` -> :mod:`.html` (with :mod:`.markup`): ``modeguard report``,
  read what to show, draw it, assemble one self-contained HTML page.
- :mod:`.tensorboard`: the optional TensorBoard mirror of a run's logs.

Nothing is imported here, so drawing samples during training does not load the report.
"""
