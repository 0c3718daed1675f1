"""Logical prompt-cache registries (what is billed as cache reads and writes)."""
