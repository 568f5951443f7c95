"""Networks: parameter counts of Table 3, output shapes, any input size, the zero padding."""

from __future__ import annotations

import pytest
import torch

from core.model.nets import ZeroPadded, pad_to_stride
from core.model.registry import MODEL_NAMES, count_parameters, create_model, model_config

torch.set_num_threads(2)

# Table 3 of Yoon et al. (2023); unet++ has no count in the paper (reference U-Net++ ~9.2 M).
TABLE3 = {
    "unet": 17.3e6,
    "reduced-unet": 4.3e6,
    "reduced-unet-attention": 5.2e6,
    "proposed": 5.2e6,
}


@pytest.mark.parametrize("name", sorted(TABLE3))
def test_parameter_counts_match_table3_within_3_percent(name):
    params = count_parameters(create_model(name))
    assert abs(params - TABLE3[name]) / TABLE3[name] < 0.03


def test_parameter_counts_match_pytorch_unet_exactly():
    assert count_parameters(create_model("unet")) == 17_263_042
    assert count_parameters(create_model("reduced-unet")) == 4_318_434


def test_unetpp_is_bigger_than_reduced_and_smaller_than_unet():
    params = count_parameters(create_model("unet++"))
    assert 4.3e6 < params < 17.3e6


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("shape", [(64, 80), (37, 53), (16, 16), (5, 130)])
def test_any_input_size_gives_same_size_two_channel_output(name, shape):
    torch.manual_seed(0)
    model = create_model(name, width=4).eval()
    x = torch.rand(2, 3, *shape)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 2, *shape)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_gradients_reach_the_first_layer(name):
    torch.manual_seed(0)
    model = create_model(name, width=4).train()
    model(torch.rand(2, 3, 32, 48)).square().mean().backward()
    first = next(p for p in model.parameters() if p.ndim == 4)
    assert first.grad is not None and first.grad.abs().sum() > 0


def test_width_scales_parameters_quadratically():
    small = count_parameters(create_model("reduced-unet", width=8))
    big = count_parameters(create_model("reduced-unet", width=16))
    assert 3.5 < big / small < 4.1


def test_proposed_sees_zero_padding_that_shifts_position():
    """With zero padding the network's output is not translation-equivariant at the edge."""
    torch.manual_seed(1)
    inner = create_model("reduced-unet-attention", width=4).eval()
    padded = ZeroPadded(inner, pad=32).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        plain = inner(x)
        y = padded(x)
        # the padded forward equals the inner network on the explicitly padded image
        explicit = inner(torch.nn.functional.pad(x, (32, 32, 32, 32)))[..., 32:64, 32:64]
    assert y.shape == plain.shape
    torch.testing.assert_close(y, explicit)
    assert not torch.allclose(y, plain)


def test_pad_to_stride_rounds_up_and_keeps_content():
    x = torch.rand(1, 3, 17, 33)
    y = pad_to_stride(x)
    assert y.shape[-2:] == (32, 48)
    torch.testing.assert_close(y[..., :17, :33], x)


def test_model_config_fills_defaults_and_rejects_unknown_options():
    assert model_config("proposed") == {
        "width": 32,
        "in_channels": 3,
        "out_channels": 2,
        "zero_pad": 32,
    }
    assert model_config("unet")["width"] == 64
    with pytest.raises(ValueError, match="no option"):
        model_config("unet", zero_pad=3)
    with pytest.raises(ValueError, match="unknown model"):
        model_config("resnet")
    with pytest.raises(ValueError, match="width: Input should be greater than or equal to 1"):
        model_config("unet", width=0)
    # Booleans are not widths, and the registry bounds the width (an untrusted
    # checkpoint asking for 2**40 channels is refused before any tensor exists).
    for bad in (True, 2**40, 100_000, 8.0, "8"):
        with pytest.raises(ValueError, match="width"):
            model_config("unet", width=bad)
    for bad in (20_000, 10**9, -1, True):
        with pytest.raises(ValueError, match="zero_pad"):
            model_config("proposed", zero_pad=bad)
