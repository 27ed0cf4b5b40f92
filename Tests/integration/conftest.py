"""Fixtures: every test gets its own copy of the binary in its own `tmp_path`."""

from __future__ import annotations

import pytest

from harness import Master, copy_binary


@pytest.fixture
def exe(tmp_path):
    """A private copy of the binary, for commands that exit by themselves."""
    return copy_binary(tmp_path)


@pytest.fixture
def master(tmp_path):
    """A private master, not started yet; killed at teardown if still running."""
    m = Master(tmp_path)
    yield m
    m.cleanup()


@pytest.fixture
def started(master):
    """A private master on `master://127.0.0.1:0`, already announced and keyed."""
    return master.start()
