"""What the evaluation tests share: where the small dev cases are, and one BLAS thread.

The cases' matrices are tiny: BLAS and OpenMP threads only wait on one another there, and on a
busy machine on every other process too (a tenfold slowdown measured), so the evaluation tests
run their numerics on one thread. The results do not depend on it.
"""

from __future__ import annotations

from pathlib import Path

from threadpoolctl import threadpool_limits

EVAL = Path(__file__).parent / "fixtures" / "eval"


def one_thread() -> threadpool_limits:
    return threadpool_limits(1)
