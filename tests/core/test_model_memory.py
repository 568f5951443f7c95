"""The memory estimate made before a network is built, and what the machine has."""

from __future__ import annotations

import resource

import pytest
import torch

from core.model import memory
from core.model.checkpoint import save_checkpoint
from core.model.infer import Predictor
from core.model.memory import NotEnoughMemoryError, check_memory, estimate, trace_activations
from core.model.registry import MODEL_NAMES, count_parameters, create_model


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_estimate_counts_the_real_parameters_without_allocating(name):
    est = estimate(name, {"width": 4}, tile=64)
    assert est.params == count_parameters(create_model(name, width=4))
    assert est.weight_bytes >= 4 * est.params
    assert est.activation_bytes > 0


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_activation_coefficients_match_a_trace_on_the_meta_device(name):
    # The estimate's per-pixel coefficients were measured with this trace; a change to a
    # network that changes its activations makes this fail until they are re-measured.
    for width, tile, training in ((4, 64, False), (12, 96, True), (20, 64, False)):
        config = {"width": width, **({"zero_pad": 8} if name == "proposed" else {})}
        traced = trace_activations(name, config, tile=tile, training=training)
        estimated = estimate(name, config, tile=tile, training=training).activation_bytes
        assert estimated == pytest.approx(traced, rel=0.02), (width, tile, training)


def test_activations_grow_with_tile_and_batch_and_training_costs_more():
    small = estimate("unet", {"width": 8}, tile=128)
    big = estimate("unet", {"width": 8}, tile=256)
    assert big.activation_bytes == pytest.approx(4 * small.activation_bytes, rel=0.05)
    assert estimate("unet", {"width": 8}, tile=128, batch_size=3).activation_bytes == (
        pytest.approx(3 * small.activation_bytes, rel=0.01)
    )
    trained = estimate("unet", {"width": 8}, tile=128, training=True)
    assert trained.weight_bytes >= 4 * 4 * trained.params  # weights, grads, 2 Adam moments
    assert trained.activation_bytes > small.activation_bytes
    # Absurd tiles are computed, never simulated: no overflow, no allocation.
    huge = estimate("proposed", {"width": 4}, tile=2**40)
    assert huge.total > 2**80


def test_the_estimate_lies_between_the_output_and_a_loose_upper_bound():
    # Inference keeps at least the output and at most a few dozen full-size feature maps
    # alive (the real peak on a GPU is measured in benchmarks/bench_memory_estimate.py).
    est = estimate("reduced-unet", {"width": 8}, tile=256)
    pixels = 256 * 256
    assert 2 * pixels * 4 < est.activation_bytes < 32 * 8 * pixels * 4


def test_check_memory_refuses_above_what_the_device_has(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: 10 * 2**20)
    est = check_memory("reduced-unet", {"width": 4}, device="cpu", tile=64)
    assert est.total < 9 * 2**20
    with pytest.raises(NotEnoughMemoryError) as exc:
        check_memory("unet", {"width": 64}, device="cpu", tile=1024, what="checkpoint X")
    message = str(exc.value)
    assert message.startswith("checkpoint X needs about") and "17.3 M parameters" in message
    assert "1 × 1024×1024 px" in message and "10.0 MiB free" in message and "\n" not in message


def test_cuda_falls_back_to_the_cpu_figure_when_cuda_cannot_answer(monkeypatch):
    monkeypatch.setattr(memory, "cpu_available_bytes", lambda: 12345)

    def no_cuda(device):
        raise RuntimeError("no CUDA driver")

    monkeypatch.setattr(torch.cuda, "mem_get_info", no_cuda)
    assert memory.available_bytes("cuda") == 12345
    assert memory.available_bytes("cuda:3") == 12345
    assert memory.available_bytes("cpu") == 12345
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (777, 1000))
    assert memory.available_bytes("cuda:0") == 777


def test_cpu_memory_from_meminfo_else_sysconf_and_bounded_by_ulimit(tmp_path, monkeypatch):
    monkeypatch.setattr(
        resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    )
    info = tmp_path / "meminfo"
    info.write_text("MemTotal:  100 kB\nMemFree:  10 kB\nMemAvailable:   2048 kB\n")
    assert memory.cpu_available_bytes(meminfo=info) == 2048 * 1024
    pages = {"SC_AVPHYS_PAGES": 3, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(memory.os, "sysconf", lambda name: pages[name])
    assert memory.cpu_available_bytes(meminfo=tmp_path / "absent") == 3 * 4096
    # An address-space limit (ulimit -v) leaves only what is not yet mapped.
    mapped = memory._mapped_bytes()
    monkeypatch.setattr(
        resource, "getrlimit", lambda which: (mapped + 5000, resource.RLIM_INFINITY)
    )
    assert memory.cpu_available_bytes(meminfo=info) == pytest.approx(5000, abs=2**20)


def test_predictor_refuses_before_loading_the_model(tmp_path, monkeypatch):
    ck = save_checkpoint(
        tmp_path / "ck", create_model("proposed", width=4), name="proposed", config={"width": 4}
    )
    loaded = []
    monkeypatch.setattr("core.model.infer.load_checkpoint", lambda *a, **k: loaded.append(a))
    monkeypatch.setattr(memory, "available_bytes", lambda device: 2**20)
    with pytest.raises(NotEnoughMemoryError, match=f"checkpoint {ck} needs about"):
        Predictor(ck, device="cpu", tile=512)
    assert loaded == []  # refused before the weights were read or the network built
