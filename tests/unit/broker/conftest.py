"""Fixtures: a writable copy of the config directory of the real RocketMQ 4.9.8 store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.compat_data import GOLDEN_STORE

GOLDEN_CONFIG = GOLDEN_STORE / "config"


@pytest.fixture
def golden_config_dir(tmp_path: Path) -> Path:
    if not GOLDEN_CONFIG.is_dir():
        pytest.skip(f"the 4.9.8 golden store is not at {GOLDEN_CONFIG}")
    target = tmp_path / "config"
    target.mkdir()
    for source in GOLDEN_CONFIG.iterdir():
        (target / source.name).write_bytes(source.read_bytes())
    return target


@pytest.fixture
def golden_text() -> dict[str, str]:
    if not GOLDEN_CONFIG.is_dir():
        pytest.skip(f"the 4.9.8 golden store is not at {GOLDEN_CONFIG}")
    return {path.name: path.read_text(encoding="utf-8") for path in GOLDEN_CONFIG.iterdir()}
