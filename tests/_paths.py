"""Where the real (non-redistributable) data sets live: never inside this repository.

Order: $LIKEWISE_SHARED_DATA, then the `shared/data` folder beside the repository (as on the
development machines and in CI), then /work/shared/data. Tests that need a data set skip when
it is absent.
"""

import os
from pathlib import Path


def _shared_data() -> Path:
    env = os.environ.get("LIKEWISE_SHARED_DATA")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return beside if beside.is_dir() else Path("/work/shared/data")


SHARED_DATA = _shared_data()
