"""Shared fixtures of the name-server unit tests: the captured 4.9.8 frames."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.compat_data import FRAMES_DIR


def load_frames(name: str) -> list[dict[str, Any]]:
    path = FRAMES_DIR / name
    if not path.exists():
        pytest.skip(f"captured frames not found at {path}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def java_frames() -> list[dict[str, Any]]:
    return load_frames("all-java.jsonl")


@pytest.fixture(scope="session")
def cpp_frames() -> list[dict[str, Any]]:
    return load_frames("all-cpp.jsonl")
