"""Issue 11 finding 7: loss arguments from a config are checked (one ConfigError, no TypeError)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfuse._utils.errors import ConfigError
from deepfuse.losses.classes import BinaryCrossEntropy, CrossEntropy


@pytest.mark.parametrize("value", ["abc", [1, "x"], -1.0, float("inf"), True, [], None])
def test_bad_pos_weight_is_a_config_error(value):
    if value is None:
        assert BinaryCrossEntropy(pos_weight=None).pos_weight is None
        return
    with pytest.raises(ConfigError, match="'pos_weight' for loss 'binary_cross_entropy'"):
        BinaryCrossEntropy(pos_weight=value)


@pytest.mark.parametrize("value", [2, 2.5, [3.0], np.float32(2.0), torch.tensor([2.0])])
def test_good_pos_weight_is_kept(value):
    loss = BinaryCrossEntropy(pos_weight=value)
    assert float(loss.pos_weight.reshape(-1)[0]) == float(np.asarray(value).reshape(-1)[0])


def test_bad_class_weights_and_smoothing():
    with pytest.raises(ConfigError, match="'class_weights'"):
        CrossEntropy(class_weights=[1.0, "heavy"])
    with pytest.raises(ConfigError, match="label_smoothing"):
        CrossEntropy(label_smoothing="abc")
