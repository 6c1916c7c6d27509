"""Checks of the ``portnn`` command's options that need more than argparse: metrics that fit the task."""

from __future__ import annotations

from ..objectives.metrics import METRICS, R2, Accuracy, MeanAbsoluteError, MeanSquaredError, TopKAccuracy

_TASKS = {"classification": (Accuracy, TopKAccuracy), "regression": (MeanAbsoluteError, MeanSquaredError, R2)}


def metric_names(text: str | None, classify: bool) -> list[str]:
    """The names in ``--metrics`` (comma separated), refusing those of the other task: a model
    that predicts classes has no r2, one that predicts values no accuracy. Names of metrics of a
    user's own pass through (``fit`` checks them).

    >>> metric_names("accuracy, top_k_accuracy", classify=True)
    ['accuracy', 'top_k_accuracy']
    >>> metric_names("r2", classify=True)
    Traceback (most recent call last):
    ...
    ValueError: --metrics: 'r2' measures a regression, and this model predicts classes; its metrics: accuracy, top_k_accuracy
    """
    names = [m.strip() for m in (text or "").split(",") if m.strip()]
    task, other = ("classification", "regression") if classify else ("regression", "classification")
    for name in names:
        found = METRICS.get(name.lower())
        if found is not None and issubclass(found, _TASKS[other]):
            mine = ", ".join(n for n, c in METRICS.items() if issubclass(c, _TASKS[task]) and n == c.name)
            what = "classes" if classify else "values"
            raise ValueError(
                f"--metrics: {name!r} measures a {other}, and this model predicts {what}; its metrics: {mine}"
            )
    return names
