"""Fixtures of the pipeline engine's tests: an app with the test steps and test actors."""

from __future__ import annotations

from typing import Any

import pytest
from stepkit import StepKit

from notewell.kernel.actor import Actor
from notewell.testing.actors import HeaderActors

ALICE = Actor(id="alice", kind="user", name="alice", roles=frozenset({"user"}))
BOB = Actor(id="bob", kind="user", name="bob", roles=frozenset({"user"}))
ROOT = Actor(id="root", kind="user", name="root", roles=frozenset({"admin"}))


@pytest.fixture
def kit() -> StepKit:
    return StepKit()


@pytest.fixture
def plugins(kit: StepKit) -> list[Any]:
    return [HeaderActors(), kit]


@pytest.fixture
def pipelines(app: Any) -> Any:
    """The app's pipeline service (``kernel.pipelines``)."""
    return app.kernel.pipelines
