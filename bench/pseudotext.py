"""Deterministic pseudo-text for long prompts: numbered sentences from a seed, and questions
about them. The same seed and length give the same text, so a new seed is a cold prefix."""

from __future__ import annotations

import random

WORDS = [
    "amber",
    "river",
    "lantern",
    "market",
    "northern",
    "quiet",
    "seven",
    "copper",
    "harbour",
    "meadow",
    "silver",
    "tower",
    "garden",
    "winter",
    "bridge",
    "candle",
    "orchard",
    "valley",
    "stone",
    "window",
    "thunder",
    "village",
    "morning",
    "scarlet",
    "cedar",
    "falcon",
    "journey",
    "ledger",
    "marble",
    "needle",
    "ocean",
    "pepper",
    "quartz",
    "ribbon",
    "saddle",
    "timber",
    "velvet",
    "willow",
    "yellow",
    "anchor",
    "basket",
    "cobalt",
    "desert",
    "ember",
    "feather",
    "glacier",
    "hollow",
    "island",
    "jasmine",
    "kettle",
    "lemon",
    "mirror",
    "nectar",
    "olive",
    "pillar",
    "rapid",
    "summit",
    "tunnel",
    "umbrella",
]
COLOURS = ("red", "blue", "green", "amber", "silver", "violet", "golden", "grey")


def pseudo_text(seed: str, sentences: int) -> str:
    """Deterministic numbered sentences: the same seed and count always give the same text."""
    rng = random.Random(seed)
    lines = [f"Reference document {seed}."]
    for number in range(1, sentences + 1):
        words = rng.sample(WORDS, 9)
        colour = rng.choice(COLOURS)
        lines.append(
            f"Sentence {number}: the {colour} {words[0]} near the {words[1]} {words[2]} carries "
            f"{rng.randint(2, 99)} {words[3]} {words[4]} toward the {words[5]} {words[6]} "
            f"of {words[7]} {words[8]}."
        )
    return "\n".join(lines)


def question(number: int) -> str:
    return f"In one word, what colour is named in sentence {number}?"
