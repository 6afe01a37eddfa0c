"""Numerical helpers shared by lablib's modules."""
from __future__ import annotations

import numpy as np

# Above this a float64 sum of squares is exact to rounding however many tiny terms underflowed on the way.
_SAFE_SUM_SQUARES = 1e-280


def l2_norm(*arrays: np.ndarray) -> float:
    """sqrt(sum of the squares of every entry of every array), without overflow or underflow.

    The plain sum of squares is used when it is finite and not tiny; otherwise each array is divided by its
    largest |entry| first (1e200 entries give 1.414e200, not inf; 1e-200 entries give 1.414e-200, not 0).
    """
    total = 0.0
    with np.errstate(over="ignore", under="ignore"):
        for a in arrays:
            flat = a.ravel()
            total += float(np.dot(flat, flat))
    if np.isfinite(total) and total > _SAFE_SUM_SQUARES:
        return float(np.sqrt(total))
    norms = []
    for a in arrays:
        biggest = float(np.max(np.abs(a))) if a.size else 0.0
        if biggest > 0:
            scaled = (a / biggest).ravel()
            norms.append(biggest * float(np.sqrt(np.dot(scaled, scaled))))
    if not norms:
        return 0.0
    biggest = max(norms)
    return biggest * float(np.sqrt(sum((n / biggest) ** 2 for n in norms)))
