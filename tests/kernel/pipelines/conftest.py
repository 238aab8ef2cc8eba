"""Fixtures of the pipeline engine's tests: an app with the test steps and test actors."""

from __future__ import annotations

from typing import Any

import pytest
from stepkit import StepKit

from notewell.testing.actors import HeaderActors


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
