"""Orchestration: the request pipelines, written against ports only."""
