"""Shared pytest configuration."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_the_digest_logger() -> Iterator[None]:
    """The CLI's main() points the `digest` logger at the test's captured stderr; put it back
    after each test."""
    logger = logging.getLogger("digest")
    handlers, level, propagate = logger.handlers[:], logger.level, logger.propagate
    yield
    logger.handlers, logger.level, logger.propagate = handlers, level, propagate
