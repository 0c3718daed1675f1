"""Parley: a self-hosted server that speaks the Claude Messages API on local open-weight models."""

__version__ = "0.1.0"
