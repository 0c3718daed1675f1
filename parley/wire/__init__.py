"""Pydantic models of the wire contract, named exactly as the official SDK's `anthropic.types`."""
