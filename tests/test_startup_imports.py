"""Issue 18 (finding 4): a fresh process that loads a model and recommends imports only what it needs.

pandas (~0.2 s), pyarrow and all of scipy.linalg / optimize / special used to load with any
model; they now load where a DataFrame is built, a file is read, or a model is fitted.
"""

from __future__ import annotations

import json
import subprocess
import sys

from likewise.models import ALS, EASE, SVD, ItemKNN, Popularity
from likewise.testing.fixtures import tiny_ratings

HEAVY = ["pandas", "pyarrow", "scipy.linalg", "scipy.optimize", "scipy.special", "matplotlib", "typer", "rich"]

PROBE = """
import json, sys
import likewise
model = likewise.load({path!r})
model.recommend(model.users_.ids[:1], n=3)
model.similar_items(model.items_.ids[:1], n=2) if model.supports_similar_items else None
print(json.dumps([name for name in {heavy!r} if name in sys.modules]))
"""


def test_loading_and_recommending_imports_nothing_heavy(tmp_path):
    data = tiny_ratings()
    for model in (Popularity(), ALS(n_factors=2, random_state=0), SVD(random_state=0), ItemKNN(k=2), EASE()):
        path = tmp_path / type(model).__name__
        model.fit(data).save(path)
        code = PROBE.format(path=str(path), heavy=HEAVY)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert json.loads(done.stdout.strip().splitlines()[-1]) == [], type(model).__name__
