"""Shared test setup.

Tests run torch on one thread: on a shared 2-core machine torch's OpenMP threads stall whenever
another process holds a core (a 12 ms step instead of 1 ms), and results stay deterministic.
"""

from __future__ import annotations

import torch

torch.set_num_threads(1)
torch.set_flush_denormal(True)
