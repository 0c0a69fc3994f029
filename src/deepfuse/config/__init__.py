"""Pure configuration handling: YAML load, ``key=value`` overrides, validation, defaults.

Imports only the standard library, PyYAML and :mod:`deepfuse._utils` (no torch), so the CLI can
check a config before anything heavy is loaded. Valid keys come from the signatures of the
functions a config calls (``Model.compile``/``Model.fit``, zoo builders, layer classes), handed in
by :mod:`deepfuse.api`; there is no second schema tree.

Example:
    >>> from deepfuse.config import apply_overrides, resolve
    >>> cfg = apply_overrides({"data": {"dataset": "mnist"}}, ["trainer.epochs=3"])
    >>> resolve(cfg)["trainer"]["epochs"]
    3
"""

from __future__ import annotations

from deepfuse.config.loader import SECTIONS, apply_overrides, dump_config, load_config, parse_value
from deepfuse.config.schema import DATA_KEYS, resolve, trainer_keys, validate
from deepfuse.config.signatures import BUILTIN_DATASETS, FEATURE_TYPES, TARGET_TYPES

__all__ = [
    "BUILTIN_DATASETS",
    "DATA_KEYS",
    "FEATURE_TYPES",
    "SECTIONS",
    "TARGET_TYPES",
    "apply_overrides",
    "dump_config",
    "load_config",
    "parse_value",
    "resolve",
    "trainer_keys",
    "validate",
]
