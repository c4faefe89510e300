"""One running system for the whole web suite (stack.py): starting PostgreSQL, the engine and the
web process once costs seconds, each test only its own requests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from stack import Stack, make


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    s = make(int(os.environ.get("WEB_TEST_PG_PORT", "55436")))
    try:
        s.start()
        yield s
    finally:
        s.stop()
