"""Shared fixtures. Qt-specific fixtures live in tests/app/conftest.py."""

from __future__ import annotations

import os

import numpy as np
import pytest

# A throwaway PostgreSQL server for team-project tests: fixtures pg_server, pg_url.
pytest_plugins = ["tests.pg"]

# Qt tests always run offscreen; set before any Qt import anywhere.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep torch and OpenCV from oversubscribing the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
