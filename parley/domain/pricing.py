"""The price book: what a request costs, from its token counts, exactly.

Prices are USD per million tokens; multipliers follow the hosted price sheet (cache writes 1.25x
for 5 minutes and 2x for 1 hour, reads 0.1x unless the model says otherwise, batch 0.5x,
a long-context premium above a per-model threshold, and the premium of a request held to a region
or geo: partner regional and multi-region endpoints, first-party `inference_geo: "us"`, 1.1x
unless an override says otherwise). Money is Decimal, and the ledger stores it as an integer
number of picodollars (1e-12 USD), which every documented price and multiplier divides exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from parley.domain.regions import GLOBAL, is_global

PER_MTOK = Decimal(1_000_000)
PICO = Decimal("1e12")


@dataclass(frozen=True)
class ModelPrice:
    input: Decimal  # USD per million uncached input tokens
    output: Decimal  # USD per million output tokens
    cache_read: Decimal = Decimal("0.1")  # multipliers of `input`
    cache_write_5m: Decimal = Decimal("1.25")
    cache_write_1h: Decimal = Decimal("2")
    long_context_threshold: int | None = None  # input + cache tokens above which ...
    long_context_input: Decimal = Decimal("2")  # ... the whole request costs this much more
    long_context_output: Decimal = Decimal("1.5")


@dataclass(frozen=True)
class TokenCounts:
    uncached: int = 0
    write_5m: int = 0
    write_1h: int = 0
    read: int = 0
    output: int = 0

    @property
    def prompt(self) -> int:
        return self.uncached + self.write_5m + self.write_1h + self.read


TOKEN_TYPES = (
    "uncached_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)


@dataclass(frozen=True)
class Cost:
    """USD per token type (keys of TOKEN_TYPES)."""

    parts: Mapping[str, Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.parts.values(), Decimal(0))

    @property
    def picodollars(self) -> int:
        return int(self.total * PICO)

    def part_picodollars(self, token_type: str) -> int:
        return int(self.parts[token_type] * PICO)


ANY = "*"


@dataclass(frozen=True, kw_only=True)
class PriceOverride:
    """Replaces the location multiplier where it matches. `region`: a region or geo name,
    "global" (the global endpoint only), or "*" (every request held to a region or geo)."""

    multiplier: Decimal
    model: str = ANY
    surface: str = ANY
    region: str = ANY

    def rank(self, model: str, surface: str, places: Mapping[str, int]) -> tuple[int, ...] | None:
        """How specifically this override matches (None: it does not): an exact model first,
        then an exact surface, then a named region over a geo over "*"."""
        if self.model not in (ANY, model) or self.surface not in (ANY, surface):
            return None
        every = None if GLOBAL in places else 0  # "*" leaves the global endpoint alone
        place = every if self.region == ANY else places.get(self.region)
        if place is None:
            return None
        return (self.model != ANY, self.surface != ANY, place)


@dataclass(frozen=True)
class PriceBook:
    models: Mapping[str, ModelPrice]
    batch: Decimal = Decimal("0.5")
    regional: Decimal = Decimal("1.1")  # a request held to a region or geo, as hosted
    overrides: Sequence[PriceOverride] = ()

    def location(self, model: str, surface: str, region: str, geo: str | None) -> Decimal:
        """The multiplier of where the request is held to: 1 on the global endpoint,
        `regional` elsewhere, unless the most specific matching override (the later among
        equals) says otherwise."""
        # the names an override's `region` may match, each with its rank: the endpoint's
        # region over the geo; a global request matches "global" only
        if is_global(region, geo):
            places = {GLOBAL: 2}
        else:
            places = {name: rank for name, rank in ((geo, 1), (region, 2)) if name}
            places.pop(GLOBAL, None)  # the first-party endpoint of a request held to a geo
        best: tuple[tuple[int, ...], Decimal] | None = None
        for override in self.overrides:
            rank = override.rank(model, surface, places)
            if rank is not None and (best is None or rank >= best[0]):
                best = (rank, override.multiplier)
        if best is not None:
            return best[1]
        return Decimal(1) if GLOBAL in places else self.regional

    def price_of(self, model: str) -> ModelPrice:
        return self.models.get(model) or ModelPrice(Decimal(0), Decimal(0))

    def cost(
        self,
        model: str,
        counts: TokenCounts,
        *,
        surface: str = "claude_api",
        region: str = GLOBAL,
        geo: str | None = None,
        batch: bool = False,
    ) -> Cost:
        price = self.price_of(model)
        common = self.location(model, surface, region, geo)
        if batch:
            common *= self.batch
        long = (
            price.long_context_threshold is not None
            and counts.prompt > price.long_context_threshold
        )
        base_in = price.input * (price.long_context_input if long else 1) * common / PER_MTOK
        base_out = price.output * (price.long_context_output if long else 1) * common / PER_MTOK
        amounts = (
            counts.uncached * base_in,
            counts.write_5m * base_in * price.cache_write_5m,
            counts.write_1h * base_in * price.cache_write_1h,
            counts.read * base_in * price.cache_read,
            counts.output * base_out,
        )
        return Cost(dict(zip(TOKEN_TYPES, amounts, strict=True)))
