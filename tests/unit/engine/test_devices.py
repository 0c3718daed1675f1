"""The GPU settings resolved against the installed llama-cpp-python, and the devices that they
leave holding a model's layers."""

from __future__ import annotations

from pathlib import Path

from parley.app import engine_settings
from parley.engine.llama.devices import Device, Offload, describe, in_use, resolve_offload
from parley.settings import EngineSettings, ModelSource, Settings

CPU = Device("CPU", "Intel Xeon", "CPU", gpu=False)
GPU0 = Device("CUDA0", "NVIDIA H200", "CUDA", gpu=True)
GPU1 = Device("CUDA1", "NVIDIA H200", "CUDA", gpu=True)


def test_a_gpu_build_offloads_every_layer_by_default() -> None:
    assert resolve_offload(EngineSettings(), gpu_backend=True) == Offload(-1, 0, (), "auto")


def test_a_cpu_build_offloads_nothing_by_default() -> None:
    assert resolve_offload(EngineSettings(), gpu_backend=False) == Offload(0, 0, (), "auto")


def test_set_values_are_taken_as_they_are() -> None:
    settings = EngineSettings(n_gpu_layers=12, main_gpu=1, tensor_split=[3, 1], flash_attn="on")
    assert resolve_offload(settings, gpu_backend=True) == Offload(12, 1, (3.0, 1.0), "on")


def test_offloaded_layers_are_held_by_every_gpu() -> None:
    assert in_use(Offload(-1, 0, (), "auto"), [CPU, GPU0, GPU1]) == [GPU0, GPU1]


def test_a_tensor_split_leaves_out_the_gpus_with_no_share() -> None:
    assert in_use(Offload(-1, 0, (0, 1), "auto"), [CPU, GPU0, GPU1]) == [GPU1]


def test_no_offloaded_layer_or_no_gpu_is_the_cpu() -> None:
    assert in_use(Offload(0, 0, (), "auto"), [CPU, GPU0]) == [CPU]
    assert in_use(Offload(-1, 0, (), "auto"), [CPU]) == [CPU]


def test_the_backend_and_devices_as_logged() -> None:
    assert describe([GPU0, GPU1]) == ("CUDA", "CUDA0 NVIDIA H200, CUDA1 NVIDIA H200")
    assert describe([CPU]) == ("CPU", "CPU Intel Xeon")


def test_a_models_own_gpu_settings_replace_the_engines() -> None:
    settings = Settings(
        engine=EngineSettings(n_gpu_layers=-1, tensor_split=[1, 1], flash_attn="on"),
        models=[ModelSource(id="big", path=Path("big.gguf"), tensor_split=[1, 0], main_gpu=1)],
    )
    own = engine_settings(settings, "big")
    assert (own.n_gpu_layers, own.main_gpu, own.tensor_split, own.flash_attn) == (
        -1,
        1,
        [1.0, 0.0],
        "on",
    )
    assert engine_settings(settings, "other") == settings.engine
