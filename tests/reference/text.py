"""Slow twin of likewise.kernels.text: Python's int() and str() decide what is canonical."""

import numpy as np


def canonical_int64_reference(texts):
    """int64 array when every text is str(int(text)) of an int64, else None."""
    out = []
    for text in texts:
        try:
            value = int(text)
        except ValueError:
            return None
        if str(value) != text or not -(2**63) <= value < 2**63:
            return None
        out.append(value)
    return np.array(out, dtype=np.int64)
