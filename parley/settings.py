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
    max_queue_wait_s: float = Field(
        default=2.0,
        gt=0,
        description="a request the engine could not start within this (estimated from the "
        "work queued ahead and measured token costs) is refused with 529",
    )
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


class LoggingSettings(BaseModel):
    """What `parley serve` writes to stderr: an access line per request, and errors."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["text", "json"] = Field(
        default="text", description="key=value text lines, or one JSON object a line"
    )
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="the least severe record written (access lines are INFO)"
    )
    access_log: bool = Field(default=True, description="one line per request")
    prompts: bool = Field(
        default=False,
        description="also log each Messages request's system and messages in its access line",
    )


class ModelSource(BaseModel):
    """An operator-added catalog entry: a local GGUF file or a Hugging Face repo + file."""

    model_config = ConfigDict(extra="forbid")

    id: str
    display_name: str | None = None
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
    models: list[ModelSource] = Field(default_factory=list)
    aliases: dict[str, str] = Field(
        default_factory=dict, description="extra model ids mapped onto catalog ids"
    )
    max_request_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
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
