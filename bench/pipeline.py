"""Throughput and latency of the whole offline pipeline, next to the bare detector's.

Images: N (default 200) 640x480 JPEG variants of the sample photos (seeded random crops of
60-100 % of each photo, resized), so every image is different but the mix of 0/1/4 faces
stays even. The same images go through

- the bare detector: ``detect_faces_in_bytes`` on a thread pool of W workers;
- the pipeline: upload into a fresh local bucket -> upload rule -> an execution of the ASL
  file on the runtime's pool of W workers -> detect, persist (SQLite), notify (Maildir).

Both after one warm-up detection (the model loads once per process); the detector runs
before and after the pipeline and its two rates are averaged, as the load may drift.
Throughput is images over wall time; CPU time per image is printed too, as on a shared
machine it is the steadier measure of the pipeline's own cost. Latency is each execution's
own start-to-stop (queueing excluded). Memory is the process's resident set after 1/4, 1/2
and all of the images went through the pipeline, and its peak. Goal: pipeline >= 90 % of
the detector's rate, memory flat.

Run: .venv/bin/python bench/pipeline.py [--images 200] [--workers W] [--detector auto]
The last line is ``pipeline_throughput_ratio=R images=N p50_ms=A p95_ms=B peak_rss_mb=M``.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from facepipe.local.detection import detect_faces_in_bytes, get_finder
from facepipe.local.home import DataHome
from facepipe.local.runtime import LocalPipeline, PipelineOptions, route_step_logs
from facepipe.samples import sample_images

SIZE = (640, 480)
SEED = 20261125


def sample_crops(
    count: int,
    folder: Path,
    size: tuple[int, int],
    *,
    seed: int,
    min_scale: float,
    quality: int = 75,
) -> list[bytes]:
    """``count`` distinct JPEGs of ``size``: random crops (``min_scale``..1 of each side) of
    the sample photos, the same ones for the same seed."""
    from PIL import Image

    rng = random.Random(seed)
    photos = [Image.open(p).convert("RGB") for p in sample_images(folder / "samples")]
    crops = []
    for index in range(count):
        photo = photos[index % len(photos)]
        scale = rng.uniform(min_scale, 1.0)
        width, height = round(photo.width * scale), round(photo.height * scale)
        left, top = rng.randint(0, photo.width - width), rng.randint(0, photo.height - height)
        out = io.BytesIO()
        crop = photo.crop((left, top, left + width, top + height)).resize(size)
        crop.save(out, "JPEG", quality=quality)
        crops.append(out.getvalue())
    return crops  # fmt: skip


def make_variants(count: int, folder: Path) -> list[Path]:
    """``count`` distinct 640x480 JPEGs cut from the sample photos."""
    paths = []
    crops = sample_crops(count, folder, SIZE, seed=SEED, min_scale=0.6, quality=88)
    for index, data in enumerate(crops):
        path = folder / f"variant-{index:04d}.jpg"
        path.write_bytes(data)
        paths.append(path)
    return paths


def memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def cpu_seconds() -> float:
    """CPU time of this process so far (all threads): steadier than wall time on a busy host."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_detector(paths: list[Path], workers: int, detector: str) -> tuple[float, list[float]]:
    """Images per second and per-image latencies (ms) of the bare detector."""

    def one(path: Path) -> float:
        started = time.perf_counter()
        detect_faces_in_bytes(path.read_bytes(), "DEFAULT", detector)
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        latencies = list(pool.map(one, paths))
    return len(paths) / (time.perf_counter() - started), latencies


def bench_pipeline(
    paths: list[Path], workers: int, detector: str, home: Path
) -> tuple[float, list[float], dict[int, float], int]:
    """Images per second, execution latencies (ms), RSS (MB) at checkpoints, failures."""
    checkpoints = {len(paths) // 4, len(paths) // 2, len(paths)}
    rss: dict[int, float] = {}
    latencies: list[float] = []
    failures = 0
    options = PipelineOptions(workers=workers, detector=detector)
    with LocalPipeline(DataHome(home), options, environ={}) as pipeline:
        started = time.perf_counter()
        futures = [pipeline.upload(p, f"uploads/{p.name}").execution for p in paths]
        for done, future in enumerate(as_completed(f for f in futures if f is not None), 1):
            outcome = future.result()
            failures += not outcome.succeeded
            if outcome.duration_ms is not None:
                latencies.append(outcome.duration_ms)
            if done in checkpoints:
                rss[done] = memory_mb("VmRSS")
        rate = len(paths) / (time.perf_counter() - started)
    return rate, latencies, rss, failures


def measured(
    bench: Any, paths: list[Path], args: argparse.Namespace
) -> tuple[float, list[float], float]:
    """The detector's rate and latencies, plus its CPU ms per image."""
    cpu = cpu_seconds()
    rate, latencies = bench(paths, args.workers, args.detector)
    return rate, latencies, (cpu_seconds() - cpu) * 1000 / len(paths)


def measured_pipeline(
    paths: list[Path], args: argparse.Namespace, folder: Path
) -> tuple[tuple[float, list[float], dict[int, float], int], float]:
    cpu = cpu_seconds()
    result = bench_pipeline(paths, args.workers, args.detector, folder / "home")
    return result, (cpu_seconds() - cpu) * 1000 / len(paths)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--detector", default="auto")
    args = parser.parse_args()
    route_step_logs()

    with tempfile.TemporaryDirectory(prefix="facepipe-bench-") as scratch:
        folder = Path(scratch)
        paths = make_variants(args.images, folder)
        finder = get_finder(args.detector)
        detect_faces_in_bytes(paths[0].read_bytes(), "DEFAULT", args.detector)  # warm-up
        print(f"{len(paths)} images {SIZE[0]}x{SIZE[1]}, {args.workers} workers, {finder.name}")

        # The detector runs before and after the pipeline (the machine's load may drift).
        before_rate, before_ms, before_cpu = measured(bench_detector, paths, args)
        (pipe_rate, pipe_ms, rss, failures), pipe_cpu = measured_pipeline(paths, args, folder)
        after_rate, after_ms, after_cpu = measured(bench_detector, paths, args)
        bare_cpu = (before_cpu + after_cpu) / 2
        bare_rate, bare_ms = (before_rate + after_rate) / 2, before_ms + after_ms

    ratio = pipe_rate / bare_rate
    print(
        f"detector: {bare_rate:6.2f} images/s  p50 {statistics.median(bare_ms):6.1f} ms  "
        f"(before {before_rate:.2f}, after {after_rate:.2f} images/s)"
    )
    print(
        f"pipeline: {pipe_rate:6.2f} images/s  p50 {percentile(pipe_ms, 0.5):6.1f} ms  "
        f"p95 {percentile(pipe_ms, 0.95):6.1f} ms  failed {failures}"
    )
    print(
        f"cpu per image: detector {bare_cpu:.1f} ms, pipeline {pipe_cpu:.1f} ms "
        f"(ratio {bare_cpu / pipe_cpu:.3f}; steadier than wall time on a shared machine)"
    )
    print("rss_mb: " + "  ".join(f"after {n}: {mb:.0f}" for n, mb in sorted(rss.items())))
    peak = memory_mb("VmHWM")
    print(
        f"pipeline_throughput_ratio={ratio:.3f} images={len(paths)} "
        f"p50_ms={percentile(pipe_ms, 0.5):.1f} p95_ms={percentile(pipe_ms, 0.95):.1f} "
        f"peak_rss_mb={peak:.0f}"
    )


if __name__ == "__main__":
    main()
