"""Test helpers: a feature space that plays a scripted collapse."""
import numpy as np

from modeguard.monitor.features import point_space


def scripted_space(collapsed_calls, n_reference=400):
    """A ring8 feature space whose fake readings are real ring8 samples, except on the
    fake-feature calls numbered in ``collapsed_calls`` (1-based), where every sample sits
    on mode 0. The reference call (``n_reference`` rows) is not counted."""
    calls = {"n": 0}
    rng = np.random.default_rng(0)

    def builder(data):
        base = point_space(data)
        m = data.modes

        def featurize(x):
            x = np.asarray(x).reshape(len(x), -1)
            if len(x) == n_reference:
                return x, None
            calls["n"] += 1
            idx = rng.integers(len(m.centers), size=len(x))
            if calls["n"] in collapsed_calls:
                idx[:] = 0
            return m.centers[idx] + m.std * rng.standard_normal(x.shape), None

        base.featurize = featurize
        return base

    builder.calls = calls
    return builder
