"""Test helpers: a feature space that plays a scripted collapse."""
import numpy as np

from modeguard.monitor.features import point_space


def scripted_space(collapsed_calls):
    """A ring8 feature space whose fake readings are real ring8 samples, except on the
    fake-feature calls numbered in ``collapsed_calls`` (1-based), where every sample sits
    on mode 0. Each monitor's first call (its reference set) is not counted."""
    calls = {"n": 0}
    rng = np.random.default_rng(0)

    def builder(data):
        base = point_space(data)
        m = data.modes
        first = {"seen": False}

        def featurize(x):
            x = np.asarray(x).reshape(len(x), -1)
            if not first["seen"]:
                first["seen"] = True
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


def healed_run(tiny_config, path):
    """A tiny run whose checks 7-9 (steps 35-45) look collapsed: healed once, rolled back to 30."""
    from modeguard.monitor.callback import MonitorCallback
    from modeguard.monitor.heal import heal_loop
    from modeguard.runs import start_run

    cb = MonitorCallback(n_samples=300, n_reference=400, warmup=10, stall=1000,
                         feature_space=scripted_space(set(range(7, 10))))
    config = tiny_config(steps=60, monitor_every=5, ckpt_every=10, sample_every=20, on_collapse="heal",
                         heal_ladder=["lr_g*0.5"], lr_g=1e-4, lr_d=1e-4)
    return heal_loop(start_run(config, path, callbacks=[cb]), echo=False)


def collapsed_run(tiny_config, path, steps=60, first_bad=5):
    """A tiny warn-mode run whose checks from the ``first_bad``-th on (step 25) look collapsed."""
    from modeguard.monitor.callback import MonitorCallback
    from modeguard.runs import start_run

    cb = MonitorCallback(n_samples=300, n_reference=400, warmup=10, stall=1000,
                         feature_space=scripted_space(set(range(first_bad, 1000))))
    trainer = start_run(tiny_config(steps=steps, monitor_every=5, ckpt_every=10, sample_every=20), path,
                        callbacks=[cb])
    trainer.fit()
    return trainer
