"""Reading a result store from Python: trials, learning curves and the standard summary rows.

::

    import seqbench
    results = seqbench.load("seqbench.db")
    results.trials()               # one record per stored trial
    results.curves(task="reber")   # tidy learning-curve points
    results.summary()              # one row per configuration, as the tables show it
    results.to_pandas("summary")   # the same as a DataFrame (needs pandas)

Nothing is rerun and the store is opened read-only, so a merged or read-only store works. The
paper's figures in the summary come from the installed plugins' presets.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .store import Store, default_db_path


class Results:
    """The trials of one store, with ways to look at them."""

    def __init__(self, path: str | os.PathLike):
        self.path = path
        with Store(path, readonly=True) as store:
            self._trials = list(store.iter_rows())
            self._curves = {t["key"]: store.curve(t["key"]) for t in self._trials}

    def trials(self, task: str | None = None, learner: str | None = None) -> list[dict[str, Any]]:
        """Stored trials (optionally of one task and/or learner) as dicts: status, sequences,
        sequences to success, timings, metrics, diagnostics and the canonical spec."""
        return [t for t in self._trials
                if (task is None or t["task"] == task) and (learner is None or t["learner"] == learner)]

    def curves(self, task: str | None = None, learner: str | None = None
               ) -> list[dict[str, Any]]:
        """Learning curves as tidy rows: one per recorded point, with the trial it belongs to,
        the sequences presented so far, the mean training error and the fraction of training
        sequences correct over the block (set learners: over the training set) ending there."""
        return [
            {"key": t["key"], "task": t["task"], "learner": t["learner"], "preset": t["preset"],
             "config_key": t["config_key"], "trial": t["trial"], "status": t["status"],
             "sequences": int(s), "train_error": float(e), "train_correct": float(c)}
            for t in self.trials(task, learner) for s, e, c in self._curves.get(t["key"], [])
        ]

    def summary(self, task: str | None = None) -> list[dict[str, Any]]:
        """One row per stored configuration (same task, learner, parameters, seed and budget),
        with the statistics of the tables and the paper's figures where a preset gives them."""
        from .report import summarise
        from .runner import _row

        groups: dict[str, list[dict[str, Any]]] = {}
        for t in self.trials(task):
            groups.setdefault(t["config_key"], []).append(t)
        return [summarise(_config_of(rows[0]), [_row(_spec_of(t), t) for t in rows])
                for rows in groups.values()]

    def to_pandas(self, what: str = "trials", **filters: Any):
        """``trials``, ``curves`` or ``summary`` as a pandas DataFrame (pandas must be
        installed; seqbench does not depend on it)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas needs pandas: pip install pandas") from None
        if what == "summary":
            from .report import flat_row

            return pd.DataFrame([flat_row(r) for r in self.summary(**filters)])
        if what not in ("trials", "curves"):
            raise ValueError(f"what must be trials, curves or summary, not {what!r}")
        return pd.DataFrame(getattr(self, what)(**filters))


def load(path: str | os.PathLike | None = None) -> Results:
    """The results in the store at ``path`` (default: ``$SEQBENCH_DB`` or ``./seqbench.db``)."""
    return Results(path or default_db_path())


def _spec_of(trial: dict[str, Any]):
    from .trial import TrialSpec

    c = trial["spec"]
    return TrialSpec(task=c["task"], learner=c["learner"], task_params=c["task_params"],
                     learner_params=c["learner_params"], seed=c["seed"], trial=c["trial"],
                     budget=c["budget"], preset=trial["preset"], versions=c.get("versions", {}))


def _config_of(trial: dict[str, Any]):
    """The configuration a stored trial belongs to, with its preset's paper figures."""
    from .plugins import get_registry
    from .runner import Config

    from .runner import _changes_preset

    c = trial["spec"]
    paper, units, comparable = None, (), True
    try:
        registry = get_registry()
        learner = registry.learner(c["learner"])
        units = tuple(getattr(learner, "work_units", ()) or ())
        if trial["preset"]:
            preset = registry.preset(c["learner"], trial["preset"], c["task"])
            paper = preset.paper
            comparable = not _changes_preset(preset, registry.task(c["task"]), c["task_params"],
                                             learner, c["learner_params"])
    except Exception:  # a plugin no longer installed: the trials still summarise
        pass
    return Config(task=c["task"], task_params=c["task_params"], learner=c["learner"],
                  learner_params=c["learner_params"], preset=trial["preset"], budget=c["budget"],
                  trials=0, seed=c["seed"], paper=paper, paper_comparable=comparable,
                  work_units=units)


__all__: Sequence[str] = ("Results", "load")
