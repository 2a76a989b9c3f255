"""Where the repository and the labeled training data are."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("MODSTREAM_TRAINING_DATA", REPO.parent / "shared" / "data"))
