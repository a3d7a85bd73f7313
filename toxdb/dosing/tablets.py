"""Whole tablets and capsules: the closest dose that can be taken, and how to say it."""
from __future__ import annotations

import math
from functools import lru_cache, reduce
from typing import Iterable, Mapping


@lru_cache(maxsize=4096)
def _round_units(dose_key: float, sizes: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    g = reduce(math.gcd, sizes)
    units = [s // g for s in sizes]                    # sizes are sorted largest first
    top = int((dose_key + sizes[0]) // g) + 1          # some sum in [dose, dose + largest) exists
    # best[s] = (tablet count, counts per size) with the fewest tablets, then the most large ones
    best: list[tuple[int, tuple[int, ...]] | None] = [None] * (top + 1)
    best[0] = (0, (0,) * len(sizes))
    for s in range(1, top + 1):
        for k, u in enumerate(units):
            prev = best[s - u] if u <= s else None
            if prev is None:
                continue
            counts = tuple(c + (1 if j == k else 0) for j, c in enumerate(prev[1]))
            cand = (prev[0] + 1, counts)
            if best[s] is None or (cand[0], [-c for c in cand[1]]) < (best[s][0], [-c for c in best[s][1]]):
                best[s] = cand
    options = [
        (round(abs(s * g - dose_key), 6), s * g, b[0], b[1])
        for s, b in enumerate(best) if b is not None
    ]
    _, total, _, counts = min(options, key=lambda o: (o[0], o[1], o[2]))
    return total, counts


def round_to_tablets(dose_mg, tablet_sizes: Iterable[int] = (150, 500)) -> tuple[int, dict[int, int]]:
    """Closest dose made of whole tablets (or capsules) and the count of each size.

    Ties go to the lower dose, then to the fewest tablets (then to the larger tablets). Distances
    are compared to 1e-6 mg, so 850.0000000001 still ties 800 and 900. Returns
    ``(rounded_mg, {largest: n, ...: m})`` with every size listed, largest first.
    Example: 850 with 150/500 -> (800, {500: 1, 150: 2}); 1650 -> (1650, {500: 3, 150: 1}).
    """
    sizes = tuple(sorted({int(s) for s in tablet_sizes}, reverse=True))
    if not sizes or sizes[-1] <= 0:
        raise ValueError(f"tablet sizes must be positive whole mg, got {tablet_sizes!r}")
    dose = float(dose_mg)
    if not math.isfinite(dose) or dose < 0:
        raise ValueError(f"dose must be a finite number >= 0, got {dose_mg!r}")
    total, counts = _round_units(round(dose, 6), sizes)
    return int(total), dict(zip(sizes, counts))


def format_tablets(counts: Mapping[int, int], unit: str = "mg") -> str:
    """{500: 2, 150: 1} -> "2 × 500 mg + 1 × 150 mg"; nothing to take -> "none"."""
    parts = [f"{n} × {size} {unit}" for size, n in sorted(counts.items(), reverse=True) if n]
    return " + ".join(parts) if parts else "none"


