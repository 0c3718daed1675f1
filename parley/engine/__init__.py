"""Adapters that run models; each implements `domain.ports.Engine`."""
