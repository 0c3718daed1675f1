"""GBNF expressions made of literals, character classes, `?`/`*` and alternation translate one
to one into Python regular expressions, so tests can check what a grammar rule allows."""

from __future__ import annotations

import json
import re

# A character class (kept as it is: the syntax is the same) or a quoted literal.
TOKEN = re.compile(r'(\[(?:[^\]\\]|\\.)*\])|("(?:[^"\\]|\\.)*")')


def as_regex(gbnf: str) -> re.Pattern[str]:
    pattern = gbnf.removesuffix(" space")
    pattern = TOKEN.sub(lambda m: m.group(1) or re.escape(json.loads(m.group(2))), pattern)
    pattern = pattern.replace("(", "(?:").replace(" ", "")
    return re.compile(pattern)


def allowed(gbnf: str, text: str) -> bool:
    return as_regex(gbnf).fullmatch(text) is not None


def rule(grammar: str, name: str) -> str:
    """The body of one rule of a grammar."""
    for line in grammar.splitlines():
        if line.startswith(f"{name} ::= "):
            return line.removeprefix(f"{name} ::= ")
    raise KeyError(name)
