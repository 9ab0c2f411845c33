"""Where the golden compatibility data lives: `../shared/compat/` beside the repository (the CI
checkout has a copy of shared/ there too). Facts about it: ../shared/compat/README.md."""

from __future__ import annotations

from pathlib import Path

__all__ = ["COMPAT", "FRAMES_DIR", "CURATED_FRAMES", "GOLDEN_STORE"]

COMPAT = Path(__file__).resolve().parents[2].parent / "shared" / "compat"
#: Complete remoting frames captured between real 4.9.8 clients, broker and name server.
FRAMES_DIR = COMPAT / "frames-4.9.8"
#: One representative exchange per category (request + response).
CURATED_FRAMES = FRAMES_DIR / "curated.jsonl"
#: A store directory written by a real 4.9.8 broker (files cut short; manifest.json has the sizes).
GOLDEN_STORE = COMPAT / "store-4.9.8"
