"""`parley serve` hides its start-up heap from the garbage collector; apps built by tests do not."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from parley.app import create_app
from parley.settings import Settings
from tests.fakes import FakeEngine


@pytest.fixture()
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def app(settings: Settings, *, freeze_heap: bool) -> FastAPI:
    engine = FakeEngine()
    return create_app(
        settings,
        engine_loader=lambda catalog: {entry.id: engine for entry in catalog.entries},
        freeze_heap=freeze_heap,
    )


async def test_a_serving_app_freezes_what_start_up_allocated(
    settings: Settings, unfrozen: None
) -> None:
    served = app(settings, freeze_heap=True)
    async with served.router.lifespan_context(served):
        assert gc.get_freeze_count() > 0


async def test_an_app_built_by_default_leaves_the_collector_alone(
    settings: Settings, unfrozen: None
) -> None:
    served = app(settings, freeze_heap=False)
    async with served.router.lifespan_context(served):
        assert gc.get_freeze_count() == 0
