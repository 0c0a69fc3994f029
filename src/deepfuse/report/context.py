"""What every section of ``report.html`` reads: :class:`RunFacts` (the run, through
:class:`deepfuse.run.RunReader`, plus the model and test rows on demand), and :func:`guarded`,
which turns a part that fails into a visible "could not be drawn" block.

Example:
    >>> import tempfile
    >>> facts = RunFacts(tempfile.mkdtemp(), {"task": "binary"})
    >>> facts.task, facts.evaluation, facts.has_test_rows
    ('binary', {}, False)
    >>> "could not be drawn" in guarded("A part", lambda: 1 / 0)  # doctest: +SKIP
    True
"""

from __future__ import annotations

import importlib
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from deepfuse.report.html import Section, failed
from deepfuse.run import MODEL_FILE, RunReader

__all__ = [
    "ReportWarning",
    "RunFacts",
    "TestRowsLoader",
    "guarded",
    "make_sections",
    "viz_function",
]

#: ``(config, model) -> test rows``: rebuilds a run's test split (dict of tensors or batches).
TestRowsLoader = Callable[[dict[str, Any], Any], Any]


class ReportWarning(UserWarning):
    """A part of ``report.html`` could not be made; the page says which and why."""


def guarded(what: str, make: Callable[[], str]) -> str:
    """``make()``, or a visible failure block (and a :class:`ReportWarning`) if it raises."""
    try:
        return make()
    except Exception as exc:  # any failure of one part must leave the rest of the report
        warnings.warn(
            f"report.html: {what} could not be drawn: {type(exc).__name__}: {exc}",
            ReportWarning,
            stacklevel=2,
        )
        return failed(what, exc)


def make_sections(
    facts: RunFacts, makers: Sequence[tuple[str, str, Callable[[RunFacts], str]]]
) -> list[Section]:
    """One :class:`~deepfuse.report.html.Section` per ``(id, title, maker)``, in that order,
    each made under :func:`guarded` (a section that fails is shown failed, the rest is kept)."""
    return [
        Section(sid, title, guarded(f"The {title.lower()} section", lambda make=make: make(facts)))
        for sid, title, make in makers
    ]


def viz_function(name: str) -> Any:
    """A function of :mod:`deepfuse.viz` by name (looked up at use: plots land independently)."""
    viz = importlib.import_module("deepfuse.viz")
    if hasattr(viz, name):
        return getattr(viz, name)
    for module in ("features", "projection", "examples", "images", "histograms"):
        try:
            sub = importlib.import_module(f"deepfuse.viz.{module}")
        except ImportError:
            continue
        if hasattr(sub, name):
            return getattr(sub, name)
    raise ImportError(f"deepfuse.viz has no {name}() in this installation")


class RunFacts:
    """What a run directory holds, read once; the model and test rows are loaded on demand.

    Args:
        run_dir: The run (or ``deepfuse cv``) folder.
        metrics: What ``metrics.json`` holds or is about to hold.
        model: The trained model (default: loaded from the run when a part needs it).
        test_data: The test split (dict of tensors or iterable of batch dicts), if in memory.
        load_test_data: Rebuilds the test split from the run's config when ``test_data`` is
            None (``deepfuse report RUN`` passes the one ``deepfuse evaluate`` uses). Without
            either, the parts that need test rows say so instead of drawing.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike,
        metrics: dict[str, Any] | None = None,
        *,
        model: Any = None,
        test_data: Any = None,
        load_test_data: TestRowsLoader | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.run = RunReader(self.run_dir)
        self.metrics = dict(metrics or {})
        self.model = model
        self.test_data = test_data
        self.load_test_data = load_test_data
        self.started = time.perf_counter()
        self._probe: Any = None
        self._cache: dict[str, Any] = {}

    def _read(self, key: str, read: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = read()
        return self._cache[key]

    @property
    def config_text(self) -> str:
        return self._read("config_text", self.run.config_text)

    @property
    def config(self) -> dict[str, Any]:
        return self._read("config", lambda: self.run.config() if self.config_text else {})

    @property
    def evaluation(self) -> dict[str, Any]:
        return self._read("evaluation", lambda: self.run.evaluation() or {})

    @property
    def meta(self) -> dict[str, Any]:
        """``model.json`` (``{}`` for a cv folder, which has none)."""
        return self._read(
            "meta", lambda: self.run.model_meta() if self.run.file(MODEL_FILE) else {}
        )

    @property
    def cv(self) -> dict[str, Any]:
        return self._read("cv", lambda: self.run.cv() or {})

    @property
    def histograms(self) -> dict[str, Any] | None:
        return self._read("histograms", self.run.histograms)

    @property
    def task(self) -> str | None:
        return self.metrics.get("task") or self.evaluation.get("task")

    @property
    def supervised(self) -> bool:
        """Whether the run predicts a target (``task: auto``: binary, multiclass, regression;
        a run from before tasks had names too); ``generate`` and ``anomaly`` runs do not."""
        return self.task in (None, "binary", "multiclass", "regression")

    @property
    def classes(self) -> list[Any] | None:
        classes = self.metrics.get("classes") or self.evaluation.get("classes")
        return list(classes) if classes else None

    @property
    def class_names(self) -> list[str] | None:
        return None if self.classes is None else [str(c) for c in self.classes]

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.meta.get("name") or self.run.name)

    @property
    def has_test_rows(self) -> bool:
        """Whether test rows are given or can be rebuilt (the probe can run)."""
        return self.test_data is not None or self.load_test_data is not None

    def loaded_model(self) -> Any:
        """The run's model: the one given, else loaded from the run (safetensors + JSON)."""
        if self.model is None:
            from deepfuse.models.serialization import load_model

            self.model = self._once("model", lambda: load_model(self.run_dir))
        return self.model

    def probe(self) -> Any:
        """One forward pass over at most 1,000 test rows (cached; see :mod:`.probe`)."""
        if self._probe is None:
            from deepfuse.report.probe import probe

            model = self.loaded_model()
            if self.test_data is None:
                if self.load_test_data is None:
                    raise ValueError("no test rows were given to the report")
                load = self.load_test_data
                self.test_data = self._once("test rows", lambda: load(self.config, model))
            self._probe = self._once("probe", lambda: probe(model, self.test_data))
        return self._probe

    def _once(self, what: str, make: Callable[[], Any]) -> Any:
        """``make()``; a failure is remembered, so the parts that need it fail fast, alike."""
        key = f"error:{what}"
        if key in self._cache:
            raise self._cache[key]
        try:
            return make()
        except Exception as exc:
            self._cache[key] = exc
            raise
