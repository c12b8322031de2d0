"""Speed targets of the foundation, measured and reported by pytest-benchmark (not asserted):
a warm `bench images build` (target: under 15 s) and a `bench doctor` that reuses this
boot's accelerator verdict (target: well under the 60 s a fresh probe may take)."""

from __future__ import annotations

from tests.realhost import bench

def test_warm_images_build(benchmark, images: dict) -> None:
    proc = benchmark.pedantic(bench, args=("images", "build"), rounds=3, iterations=1)
    assert proc.returncode == 0 and "mmdebstrap" not in proc.stderr


def test_doctor_with_cached_verdict(benchmark) -> None:
    bench("doctor", "--json")  # make sure this boot's verdict exists
    proc = benchmark.pedantic(bench, args=("doctor", "--json"), rounds=3, iterations=1)
    assert proc.returncode == 0
