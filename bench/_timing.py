"""Timing helper shared by the benchmarks: one warm-up call, then the median of several runs."""
import statistics
import time


def median_seconds(fn, repeats: int = 5) -> float:
    fn()  # warm-up: imports, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
