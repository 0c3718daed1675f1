"""Which devices llama.cpp computes on: the GPU settings resolved against the installed
llama-cpp-python (offload everything when it was built with a GPU backend, nothing
otherwise), and the ggml devices that this leaves in use, for the log and /metrics."""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import llama_cpp as llama

from parley.settings import EngineSettings

ALL_LAYERS = -1  # llama.cpp: a negative n_gpu_layers offloads every layer
FLASH_ATTN_TYPES = {
    "auto": llama.LLAMA_FLASH_ATTN_TYPE_AUTO,
    "on": llama.LLAMA_FLASH_ATTN_TYPE_ENABLED,
    "off": llama.LLAMA_FLASH_ATTN_TYPE_DISABLED,
}
# enum ggml_backend_dev_type: CPU, GPU, IGPU (integrated), ACCEL, META
_GPU_TYPES = (1, 2)


@dataclass(frozen=True)
class Offload:
    """The GPU settings of one model as llama.cpp takes them."""

    n_gpu_layers: int
    main_gpu: int
    tensor_split: tuple[float, ...]
    flash_attn: Literal["auto", "on", "off"]


def gpu_backend() -> bool:
    """Whether the installed llama-cpp-python was built with a GPU backend."""
    return bool(llama.llama_supports_gpu_offload())


def resolve_offload(settings: EngineSettings, gpu_backend: bool) -> Offload:
    """`gpu_backend`: whether llama-cpp-python was built with one
    (`llama_supports_gpu_offload()`); it decides n_gpu_layers when the settings leave it out."""
    layers = settings.n_gpu_layers
    if layers is None:
        layers = ALL_LAYERS if gpu_backend else 0
    return Offload(
        layers, settings.main_gpu, tuple(settings.tensor_split or ()), settings.flash_attn
    )


@dataclass(frozen=True)
class Device:
    name: str  # "CPU", "CUDA0", "Metal", ...
    description: str  # e.g. the GPU's model name
    backend: str  # the ggml backend: "CPU", "CUDA", "Vulkan", ...
    gpu: bool


def devices() -> list[Device]:
    """The devices the ggml backends of this llama-cpp-python registered."""
    lib = llama.llama_cpp._lib  # libllama; the ggml functions resolve through its dependencies
    lib.ggml_backend_dev_count.restype = ctypes.c_size_t
    lib.ggml_backend_dev_get.restype = ctypes.c_void_p
    lib.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    for name in ("ggml_backend_dev_name", "ggml_backend_dev_description"):
        getattr(lib, name).restype = ctypes.c_char_p
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.ggml_backend_dev_type.restype = ctypes.c_int
    lib.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_dev_backend_reg.restype = ctypes.c_void_p
    lib.ggml_backend_dev_backend_reg.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_reg_name.restype = ctypes.c_char_p
    lib.ggml_backend_reg_name.argtypes = [ctypes.c_void_p]
    found = []
    for index in range(lib.ggml_backend_dev_count()):
        device = lib.ggml_backend_dev_get(index)
        found.append(
            Device(
                name=lib.ggml_backend_dev_name(device).decode(),
                description=lib.ggml_backend_dev_description(device).decode(),
                backend=lib.ggml_backend_reg_name(
                    lib.ggml_backend_dev_backend_reg(device)
                ).decode(),
                gpu=lib.ggml_backend_dev_type(device) in _GPU_TYPES,
            )
        )
    return found


def in_use(offload: Offload, available: Sequence[Device]) -> list[Device]:
    """The devices that hold the model's layers: the GPUs (those with a share of the tensor
    split, when one is set) if any layer is offloaded, else the CPU."""
    gpus = [device for device in available if device.gpu]
    if offload.n_gpu_layers != 0 and gpus:
        split = offload.tensor_split
        return [gpu for i, gpu in enumerate(gpus) if not split or (i < len(split) and split[i] > 0)]
    return [device for device in available if not device.gpu and device.backend == "CPU"]


def describe(used: Sequence[Device]) -> tuple[str, str]:
    """(backend, devices) as the log and the info metric show them, e.g. ("CUDA",
    "CUDA0 NVIDIA H200")."""
    backends = sorted({device.backend for device in used}) or ["CPU"]
    return ",".join(backends), ", ".join(f"{d.name} {d.description}" for d in used)
