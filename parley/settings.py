"""Settings: the only configuration surface, read from a TOML file, the environment and flags.

Precedence, highest first: explicit overrides (CLI flags), `PARLEY_*` environment variables
(nested groups with `__`, e.g. `PARLEY_ENGINE__THREADS=2`), the TOML file, defaults.
"""

from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class EngineSettings(BaseModel):
    """How the local llama.cpp engine uses the machine."""

    model_config = ConfigDict(extra="forbid")

    threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    kv_cells: int = Field(
        default=32768, ge=256, description="KV cache cells shared by sequences and cached prefixes"
    )
    max_sequences: int = Field(default=8, ge=1, description="sequences decoded in one batch")
    batch_tokens: int = Field(default=512, ge=16, description="tokens per llama_decode call")
    queue_limit: int = Field(default=64, ge=1, description="waiting requests before 529")
    prefix_entries: int = Field(
        default=56, ge=0, description="cached prefixes kept as KV cells (LRU beyond)"
    )
    idle_prefix_cells: int = Field(
        default=0,
        ge=0,
        description="KV cells that cached prefixes no running request uses may keep when a "
        "request starts; the rest move to host RAM (every resident cell widens attention)",
    )
    cache_ram_mb: int = Field(
        default=1024, ge=0, description="host RAM for KV snapshots of evicted prefixes (0: off)"
    )
    prefix_idle_seconds: float = Field(
        default=3600.0, gt=0, description="an unused, unpinned cached prefix expires after this"
    )
    seed: int = Field(default=0, description="base seed of sampling when temperature > 0")
    extra_buffers: bool = Field(
        default=False,
        description="llama.cpp's AMX / repacked weight buffers: faster on some CPUs, but "
        "AMX kernels crash where the OS does not grant AMX state (seen in sandboxes)",
    )
    n_gpu_layers: int | None = Field(
        default=None,
        ge=-1,
        description="layers offloaded to GPUs, -1 for all; default: all when llama-cpp-python "
        "was built with a GPU backend, else 0",
    )
    main_gpu: int = Field(
        default=0, ge=0, description="the GPU for small tensors and intermediate results"
    )
    tensor_split: list[float] | None = Field(
        default=None, description="share of the model per GPU, e.g. [3, 1]; default: by memory"
    )
    flash_attn: Literal["auto", "on", "off"] = Field(
        default="auto", description="llama.cpp's flash attention"
    )


class ClassLimitsSource(BaseModel):
    """Per-minute limits of one model class; an absent value is unlimited."""

    model_config = ConfigDict(extra="forbid")

    rpm: int | None = Field(default=None, ge=1)
    itpm: int | None = Field(default=None, ge=1)
    otpm: int | None = Field(default=None, ge=1)


class TierSource(BaseModel):
    """A spend tier of the config: added to the preset's, or replacing one of the same name."""

    model_config = ConfigDict(extra="forbid")

    name: str
    credit_threshold: Decimal = Field(default=Decimal(0), ge=0)
    monthly_cap: Decimal | None = Field(default=None, ge=0)
    classes: dict[str, ClassLimitsSource] = Field(default_factory=dict)
    batch_queue: int | None = Field(
        default=None, ge=1, description="batch requests processing at once; None: unlimited"
    )


class PriceSource(BaseModel):
    """A model's prices in USD per million tokens, and its cache-read multiplier."""

    model_config = ConfigDict(extra="forbid")

    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cache_read: Decimal = Field(default=Decimal("0.1"), ge=0)
    long_context_threshold: int | None = Field(default=None, ge=1)


class PriceOverrideSource(BaseModel):
    """Replaces the 1.1x premium of requests held to a region or geo (or sets a multiplier of
    the global endpoint) for a model, surface and region; the most specific one wins."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(default="*", description='catalog id or alias, or "*"')
    surface: Literal["claude_api", "vertex", "bedrock", "*"] = "*"
    region: str = Field(
        default="*", description='a region, a geo, "global", or "*" (every non-global request)'
    )
    multiplier: Decimal = Field(ge=0)


class RegionSource(BaseModel):
    """A region of `[regions]`: its geo, and the models served there."""

    model_config = ConfigDict(extra="forbid")

    geo: str = Field(min_length=1, description="the geo the region lies in: us, eu, apac, ...")
    models: list[str] | None = Field(
        default=None, description="catalog ids or aliases served here; omitted: every model"
    )


class QuotaSource(BaseModel):
    """Per-minute quotas of a partner surface in a region for a model; absent ones are
    unlimited."""

    model_config = ConfigDict(extra="forbid")

    surface: Literal["vertex", "bedrock"]
    region: str = Field(default="*", description='a region, or "*" (each region)')
    model: str = Field(default="*", description='catalog id or alias, or "*" (each model)')
    rpm: int | None = Field(default=None, ge=1)
    input_tpm: int | None = Field(default=None, ge=1)
    output_tpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1, description="input and output tokens together")


def _default_prices() -> dict[str, PriceSource]:
    """The packaged model, priced like the smallest hosted model (Haiku 5.5) so a fresh
    install shows real numbers."""
    return {
        "smollm2-135m-instruct-20250207": PriceSource(input=Decimal("0.10"), output=Decimal("0.50"))
    }


class LimitsSettings(BaseModel):
    """Spend tiers and per-minute rate limits."""

    model_config = ConfigDict(extra="forbid")

    preset: Literal["current", "legacy"] = Field(
        default="current", description="the hosted tier table to start from"
    )
    default_tier: str | None = Field(
        default=None, description="tier of organizations without one (default: the first)"
    )
    otpm: Literal["realtime", "reserve"] = Field(
        default="realtime",
        description="count output as generated, or reserve max_tokens at admission",
    )
    tiers: list[TierSource] = Field(default_factory=list)
    workspaces: dict[str, ClassLimitsSource] = Field(
        default_factory=dict, description="lower limits for a workspace id, all model classes"
    )


class ContextExtensionSource(BaseModel):
    """RoPE scaling past a model's trained window (llama.cpp's linear or YaRN)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["linear", "yarn"] = Field(
        default="yarn", description="yarn keeps more quality than linear at the same factor"
    )
    factor: float = Field(ge=1.0, le=32.0, description="the trained window times this is usable")
    trained_window: int | None = Field(
        default=None, ge=16, description="the window scaling starts from; default: the file's"
    )


class BatchesSettings(BaseModel):
    """Message Batches: the worker in this process, and the batches' lifetimes."""

    model_config = ConfigDict(extra="forbid")

    worker: bool = Field(default=True, description="run a batch worker inside `parley serve`")
    concurrency: int = Field(default=8, ge=1, description="batch requests a worker runs at once")
    expires_seconds: float = Field(
        default=24 * 3600.0, gt=0, description="a batch's unfinished requests expire after this"
    )
    retention_seconds: float = Field(
        default=29 * 24 * 3600.0, gt=0, description="results are deleted this long after creation"
    )
    lease_seconds: float = Field(
        default=60.0, gt=0, description="a dead worker's requests are claimed again after this"
    )
    poll_seconds: float = Field(default=0.5, gt=0, description="idle wait between claims")
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024, description="largest batch body")


class ReplicaSource(BaseModel):
    """One server of a remote model, and the region of `[regions]` it runs in."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1)
    region: str | None = Field(default=None, description="none: serves every region")


class ModelSource(BaseModel):
    """An operator-added catalog entry: a local GGUF file, a Hugging Face repo + file, or
    servers that run the model (llama-server, vLLM)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    display_name: str | None = None
    backend: Literal["llama-cpp", "llama-server", "vllm"] = Field(
        default="llama-cpp", description="in-process llama.cpp, or the servers in `urls`"
    )
    urls: list[str | ReplicaSource] = Field(
        default_factory=list, description="a remote backend's replicas: URLs or {url, region}"
    )
    gguf: Path | None = Field(
        default=None, description="a remote model's GGUF, opened vocab-only for tokenizing"
    )
    path: Path | None = None
    hf_repo: str | None = None
    hf_file: str | None = None
    aliases: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    context_window: int | None = Field(default=None, ge=16)
    max_output: int | None = Field(default=None, ge=1)
    min_cache_tokens: int = Field(
        default=1024, ge=1, description="shortest prefix a cache_control breakpoint caches"
    )
    rate_class: str = Field(default="default", description="model class of the tier tables")
    cache_reads_count_itpm: bool = Field(
        default=False, description="whether cache reads count toward input tokens per minute"
    )
    chat_template: str | None = Field(
        default=None,
        description="chatml, gemma, llama3, mistral, phi3, qwen, or a Jinja template; default: "
        "the file's own, else the format of its architecture",
    )
    context_extension: ContextExtensionSource | None = Field(
        default=None, description="RoPE scaling, for a context_window past the trained one"
    )

    # The engine's GPU settings for this model; absent ones are [engine]'s.
    n_gpu_layers: int | None = Field(default=None, ge=-1)
    main_gpu: int | None = Field(default=None, ge=0)
    tensor_split: list[float] | None = None
    flash_attn: Literal["auto", "on", "off"] | None = None


class RemoteSettings(BaseModel):
    """How Parley talks to remote engine servers and spreads requests over their replicas."""

    model_config = ConfigDict(extra="forbid")

    routing: Literal["prefix", "round-robin"] = Field(
        default="prefix", description="replica choice: prefix affinity, or plain rotation"
    )
    imbalance_cap: int = Field(
        default=4,
        ge=0,
        description="in-flight requests a prefix's replica may run beyond the least loaded one",
    )
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(
        default=120.0, gt=0, description="longest wait for the next streamed piece"
    )
    health_interval_seconds: float = Field(
        default=5.0, gt=0, description="how often every replica's /health is checked"
    )
    retry_seconds: float = Field(
        default=10.0, gt=0, description="how long a failed replica stays out before a recheck"
    )


class Settings(BaseSettings):
    """Everything Parley reads at start-up; passed down explicitly, never global."""

    model_config = SettingsConfigDict(
        env_prefix="PARLEY_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(default_factory=lambda: Path.home() / ".parley")
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in data_dir"
    )
    default_model: bool = Field(default=True, description="serve the packaged SmolLM2 model")
    gemma_model: bool = Field(
        default=False,
        description="also serve the packaged Gemma 3 270M (32k window: fits Claude Code's "
        "default prompt); its file is assembled into data_dir/models on first start",
    )
    models: list[ModelSource] = Field(default_factory=list)
    aliases: dict[str, str] = Field(
        default_factory=dict, description="extra model ids mapped onto catalog ids"
    )
    max_request_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    remote: RemoteSettings = Field(default_factory=RemoteSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    batches: BatchesSettings = Field(default_factory=BatchesSettings)
    prices: dict[str, PriceSource] = Field(
        default_factory=_default_prices, description="per catalog id; unpriced models cost 0"
    )
    price_overrides: list[PriceOverrideSource] = Field(
        default_factory=list, description="multipliers per model, surface and region"
    )
    regions: dict[str, RegionSource] = Field(
        default_factory=dict, description="the regions served; none: every region name"
    )
    quotas: list[QuotaSource] = Field(
        default_factory=list, description="partner surfaces' quotas per region and model"
    )
    limiter_url: str | None = Field(
        default=None, description="redis:// URL shared by replicas; default: in-process"
    )
    thread_store_url: str | None = Field(
        default=None,
        description="redis:// URL holding thread replies (sealed) for every replica; "
        "default: this process's memory",
    )
    thread_store_max_replies: int = Field(
        default=10_000, ge=1, description="thread replies held in memory; oldest go first"
    )
    cache_registry_url: str | None = Field(
        default=None,
        description="redis:// URL of the prompt-cache registry shared by replicas; "
        "default: in-process",
    )
    default_region: str = Field(
        default="us-east-1",
        description="region of a Bedrock request whose URL and signature name none",
    )
    server_key: SecretStr | None = Field(
        default=None,
        description="base64 of 32 bytes that seal secrets at rest; default: data_dir/server.key, "
        "created on first use (replicas must share one)",
    )

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'parley.db'}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from the TOML file (if any), the environment and non-None overrides."""
    given = {key: value for key, value in overrides.items() if value is not None}
    if config_file is None:
        return Settings(**given)
    if not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")

    class _FromFile(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (
                init_settings,
                env_settings,
                TomlConfigSettingsSource(settings_cls, config_file),
            )

    return Settings.model_validate(_FromFile(**given).model_dump())
