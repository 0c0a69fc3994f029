"""One contract every deepfuse layer passes (after keras' ``run_layer_test``).

``run_layer_test(layer, x)`` (``x`` a tensor, or a list of tensors for merge layers) checks: lazy build on the first call, output shape, JSON config
round trip (direct and through the registry), state_dict round trip into a fresh layer (both
built from ``build_shape`` and unbuilt), identical outputs, and that gradients reach every weight.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import torch

from deepfuse import layers
from deepfuse.layers import Layer


def _fresh(layer: Layer) -> Layer:
    clone = layers.deserialize(json.loads(json.dumps(layers.serialize(layer))))
    assert type(clone) is type(layer)
    return clone


def run_layer_test(
    layer: Layer, x: torch.Tensor | list[torch.Tensor], expected_shape: Sequence[int] | None = None
) -> torch.Tensor:
    """Run the layer contract on ``layer`` with input ``x``; return the (eval-mode) output."""
    assert isinstance(layer, Layer) and isinstance(layer, torch.nn.Module)
    config = layer.get_config()
    json.dumps(config)  # JSON-able
    assert "name" in config

    # Build on first call; weights exist afterwards and build_shape is recorded for lazy layers.
    had_params = len(list(layer.parameters())) > 0
    layer.eval()
    with torch.no_grad():
        y = layer(x)
    assert layer.built
    if not had_params and list(layer.parameters()) and not isinstance(x, list):
        assert layer.build_shape is not None
        assert layer.build_shape[0] is None
        assert list(layer.build_shape[1:]) == list(x.shape[1 : len(layer.build_shape)])
        json.dumps(layer.build_shape)
    if expected_shape is not None:
        assert tuple(y.shape) == tuple(expected_shape), (tuple(y.shape), expected_shape)

    # Config round trip: same class, same config, before and after building.
    assert layer.get_config() == config
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == config
    assert _fresh(layer).get_config() == config

    # state_dict round trip: (a) build from the recorded shape, (b) load into an unbuilt layer.
    state = layer.state_dict()
    for make in ("build", "lazy"):
        other = _fresh(layer)
        if make == "build" and layer.build_shape is not None:
            other.build(layer.build_shape)
        other.load_state_dict(state)
        other.eval()
        assert set(other.state_dict()) == set(state)
        with torch.no_grad():
            torch.testing.assert_close(other(x), y)

    # Gradients reach every trainable weight (and the input when it is float).
    layer.train()
    params = [p for p in layer.parameters() if p.requires_grad]
    xs = list(x) if isinstance(x, list) else [x]  # merge layers take a list of tensors
    xgs = [t.clone().requires_grad_(t.is_floating_point()) for t in xs]
    out = layer(xgs if isinstance(x, list) else xgs[0])
    if out.requires_grad:
        (out.float() ** 2).mean().backward()
        for name, p in layer.named_parameters():
            if p.requires_grad:
                assert p.grad is not None, f"no gradient for {name}"
        for t, tg in zip(xs, xgs):
            if t.is_floating_point():
                assert tg.grad is not None
    else:
        assert not params
    layer.zero_grad(set_to_none=True)
    layer.eval()
    return y
