"""Pure configuration handling: YAML load, ``key=value`` overrides, validation, defaults.

Imports only the standard library, PyYAML and :mod:`deepfuse._utils` (no torch), so the CLI can
check a config before anything heavy is loaded. Valid keys come from the signatures of the
functions a config calls (``Model.compile``/``Model.fit``, zoo builders, layer classes), handed in
as a *signatures* mapping (:func:`deepfuse.models.from_config.config_signatures` collects the
real ones); there is no second schema tree.

Example:
    >>> from deepfuse.config import apply_overrides, resolve
    >>> cfg = apply_overrides({"data": {"dataset": "mnist"}}, ["trainer.epochs=3"])
    >>> def fit(x=None, *, epochs=1, batch_size=32): ...
    >>> resolve(cfg, {"fit": fit})["trainer"]
    {'epochs': 3, 'batch_size': 'auto', 'early_stopping': 'auto', 'time_budget': 'auto', 'search': 'auto', 'baselines': 'auto', 'threshold': 'auto'}
"""

from __future__ import annotations

from deepfuse.config.frozen import freeze, thaw
from deepfuse.config.loader import SECTIONS, apply_overrides, dump_config, load_config, parse_value
from deepfuse.config.schema import DATA_KEYS, resolve, trainer_keys, validate

__all__ = [
    "DATA_KEYS",
    "SECTIONS",
    "apply_overrides",
    "dump_config",
    "freeze",
    "load_config",
    "parse_value",
    "resolve",
    "thaw",
    "trainer_keys",
    "validate",
]
