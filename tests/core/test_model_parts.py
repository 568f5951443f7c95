"""The paper's parts, each pinned: bypass one and its test fails.

Section 3.3 of Yoon et al. (2023) adds three things to a reduced U-Net: spatial
attention at the bottleneck, an additive attention module (AAM: query up-sampling,
then an attention gate on the skip) and a zero-padded input. Each ``_check_*`` below
raises ``AssertionError`` when its part is missing or does nothing; each part has a
test that the real code passes the check and a mutation test that bypassing the part
(the module returning the skip or its input unchanged) makes the check fail, so no
check here can pass vacuously. Exact parameter counts pin the widths and the depth.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.model import parts
from core.model.nets import DEFAULT_ZERO_PAD, AttentionUNet, ZeroPadded
from core.model.parts import AttentionGate, AttentionUp, QueryUp, SpatialAttention
from core.model.registry import count_parameters, create_model

torch.set_num_threads(2)


def _seeded(module: nn.Module, seed: int = 0) -> nn.Module:
    """Re-draw every weight from a seed (BN affine too), so gates are far from constant."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return module.eval()


def _differs(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and float((a - b).abs().max()) > 1e-5


# ---------------------------------------------------------------- spatial attention


def _check_spatial_attention() -> None:
    """One gate per pixel in (0, 1), shared by all channels, from max- and mean-pooling."""
    sa = _seeded(SpatialAttention(), seed=1)
    torch.manual_seed(2)
    x = torch.rand(2, 6, 12, 10) + 0.1
    with torch.no_grad():
        y = sa(x)
        pooled = torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], dim=1)
        gate = torch.sigmoid(F.conv2d(pooled, sa.conv.weight, sa.conv.bias, padding=3))
    assert y.shape == x.shape
    ratio = y / x
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-6), "one gate per pixel"
    assert float(ratio.max()) < 1.0 and float(ratio.min()) > 0.0, "features are not gated"
    assert float(ratio.std()) > 1e-3, "the gate does not vary over the image"
    torch.testing.assert_close(y, x * gate)
    # The network sends its bottleneck through it: without it the output changes.
    net = _seeded(AttentionUNet(width=4), seed=3)
    img = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        with_sa = net(img)
        net.spatial = nn.Identity()
        without = net(img)
    assert _differs(with_sa, without), "the bottleneck bypasses the spatial attention"


def test_spatial_attention_gates_the_bottleneck():
    _check_spatial_attention()


def test_bypassed_spatial_attention_fails_its_check(monkeypatch):
    monkeypatch.setattr(SpatialAttention, "forward", lambda self, x: x)
    with pytest.raises(AssertionError):
        _check_spatial_attention()


# ------------------------------------------------------------------ attention gate


def _check_attention_gate() -> None:
    """α = σ(ψ(ReLU(W_q·q + W_k·k))) per pixel, shared by channels; the output is α·k."""
    gate = _seeded(AttentionGate(8), seed=4)
    torch.manual_seed(5)
    query = torch.randn(2, 8, 9, 11)
    skip = torch.rand(2, 8, 9, 11) + 0.1
    with torch.no_grad():
        y = gate(query, skip)
        alpha = torch.sigmoid(gate.psi(F.relu(gate.w_query(query) + gate.w_key(skip))))
        ratio = y / skip
        assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-6)
        assert float(ratio.max()) < 1.0 and float(ratio.std()) > 1e-3, "the skip is not gated"
        torch.testing.assert_close(y, skip * alpha)
        # The query steers the gate, pixel by pixel (1×1 convolutions only).
        moved = query.clone()
        moved[:, :, 4, 5] += 3.0
        changed = (gate(moved, skip) - y).abs().amax(dim=(0, 1)) > 1e-6
    assert bool(changed[4, 5]), "the query does not steer the gate"
    assert int(changed.sum()) == 1, "the gate mixes pixels"


def test_attention_gate_weighs_the_skip_by_the_query():
    _check_attention_gate()


def test_bypassed_attention_gate_fails_its_check(monkeypatch):
    monkeypatch.setattr(AttentionGate, "forward", lambda self, query, skip: skip)
    with pytest.raises(AssertionError):
        _check_attention_gate()


# ------------------------------------------------------------- query up-sampling


def _check_query_up() -> None:
    """Figure 4's query path: bilinear ×2 (align_corners), 3×3 conv, batch norm, ReLU."""
    qu = _seeded(QueryUp(6, 6), seed=6)
    torch.manual_seed(7)
    x = torch.randn(2, 6, 5, 7)
    with torch.no_grad():
        y = qu(x)
        up = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        conv, bn = qu.block[0], qu.block[1]
        expected = F.relu(bn(conv(up)))
    assert y.shape == (2, 6, 10, 14)
    assert float(y.min()) >= 0.0, "no ReLU on the query"
    torch.testing.assert_close(y, expected)


def test_query_up_sampling_is_bilinear_then_conv_bn_relu():
    _check_query_up()


@pytest.mark.parametrize(
    "bypass",
    [
        lambda self, x: parts.upsample2(x),  # no convolution / BN / ReLU
        lambda self, x: self.block(F.interpolate(x, scale_factor=2, mode="nearest")),
        lambda self, x: self.block(x),  # no up-sampling
    ],
    ids=["no-conv", "nearest", "no-upsampling"],
)
def test_bypassed_query_up_sampling_fails_its_check(monkeypatch, bypass):
    monkeypatch.setattr(QueryUp, "forward", bypass)
    with pytest.raises(AssertionError):
        _check_query_up()


def _check_aam_wiring() -> None:
    """AAM: the up-sampled query gates the skip; [gated skip, query] go to the convolution."""
    aam = _seeded(AttentionUp(8, 4, 4), seed=8)
    seen: dict[str, Any] = {}
    aam.gate.register_forward_hook(lambda m, args, out: seen.update(gate=(args, out)))
    aam.conv.register_forward_pre_hook(lambda m, args: seen.update(conv=args[0]))
    torch.manual_seed(9)
    x, skip = torch.randn(1, 8, 6, 5), torch.rand(1, 4, 12, 10)
    with torch.no_grad():
        aam(x, skip)
        query = aam.query(x)
    assert "gate" in seen, "the skip is not gated"
    (q_in, k_in), gated = seen["gate"]
    torch.testing.assert_close(q_in, query)
    torch.testing.assert_close(k_in, skip)
    assert _differs(gated, skip), "the gate returned the skip unchanged"
    torch.testing.assert_close(seen["conv"], torch.cat([gated, query], dim=1))


def test_additive_attention_module_wires_query_gate_and_skip():
    _check_aam_wiring()


@pytest.mark.parametrize("part", ["gate", "query"])
def test_bypassed_aam_parts_fail_the_wiring_check(monkeypatch, part):
    if part == "gate":
        monkeypatch.setattr(AttentionGate, "forward", lambda self, query, skip: skip)
    else:  # the query path skipped: up-sampled decoder features, cut to the skip's width

        def no_query(self, x, skip):
            query = parts.upsample2(x)[:, : skip.shape[1]]
            return self.conv(torch.cat([self.gate(query, skip), query], dim=1))

        monkeypatch.setattr(AttentionUp, "forward", no_query)
    with pytest.raises(AssertionError):
        _check_aam_wiring()


# ------------------------------------------------------------------- zero padding


def _check_zero_padding(model: nn.Module) -> None:
    """The inner network sees a Z = 64 px zero border (32 per side); output cropped back."""
    assert isinstance(model, ZeroPadded)
    seen: list[torch.Tensor] = []
    model.net.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    x = torch.rand(1, 3, 24, 40) + 0.5
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 2, 24, 40)
    assert seen, "the inner network did not run"
    inner = seen[0]
    p = DEFAULT_ZERO_PAD
    assert inner.shape[-2:] == (24 + 2 * p, 40 + 2 * p), "input not zero-padded"
    torch.testing.assert_close(inner[..., p:-p, p:-p], x)
    border = inner.clone()
    border[..., p:-p, p:-p] = 0
    assert float(border.abs().max()) == 0.0, "the border is not zeros"
    with torch.no_grad():
        torch.testing.assert_close(y, model.net(inner)[..., p:-p, p:-p])


def test_proposed_network_zero_pads_its_input():
    assert DEFAULT_ZERO_PAD * 2 == 64
    _check_zero_padding(create_model("proposed", width=4).eval())


def test_bypassed_zero_padding_fails_its_check(monkeypatch):
    monkeypatch.setattr(ZeroPadded, "forward", lambda self, x: self.net(x))
    with pytest.raises(AssertionError):
        _check_zero_padding(create_model("proposed", width=4).eval())


# --------------------------------------------------------------- parameter counts

#: Exact counts at the default widths (Table 3 rounds them: 17.3 M, 4.3 M, 5.2 M, 5.2 M).
EXACT = {
    "unet": 17_263_042,
    "reduced-unet": 4_318_434,
    "reduced-unet-attention": 5_191_585,
    "proposed": 5_191_585,
    "unet++": 9_159_714,
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_exact_parameter_counts(name):
    assert count_parameters(create_model(name)) == EXACT[name]


def test_exact_parameter_counts_of_the_parts():
    assert count_parameters(SpatialAttention()) == 2 * 7 * 7 + 1  # one 7×7 conv, 2 → 1
    for c in (32, 64, 128, 256):
        # W_q, W_k: 1×1 conv c → c/2 + BN; ψ: 1×1 conv c/2 → 1 + BN
        assert count_parameters(AttentionGate(c)) == c * c + 7 * c // 2 + 3
    assert count_parameters(QueryUp(64, 32)) == 9 * 64 * 32 + 2 * 32  # conv, no bias; BN
    net = create_model("reduced-unet-attention")
    assert count_parameters(net.spatial) == 99
    assert [count_parameters(m) for m in (net.up1, net.up2, net.up3, net.up4)] == [
        2_132_099,
        533_571,
        133_667,
        38_195,
    ]
    # Attention adds 873,151 parameters to the reduced U-Net (4.3 M → 5.2 M in Table 3),
    # and the zero padding adds none.
    assert EXACT["reduced-unet-attention"] - EXACT["reduced-unet"] == 873_151
