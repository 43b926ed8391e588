"""Side-by-side benchmark of the local face detectors.

Accuracy: precision and recall at the pipeline's default MIN_CONFIDENCE (90) and AP, all at
IoU 0.5 (PASCAL VOC rules, greedy matching by score), on the 43 annotated faces of dlib's
``examples/faces`` (training.xml + testing.xml, PASCAL VOC photos). They come from the Debian
source package ``dlib`` 19.24+dfsg-1, fetched once with apt using private state dirs (the
system's apt configuration is not touched) and cached under bench/out/.

Speed: median wall time of ``detect_faces_in_bytes`` (decode + detect + FaceDetails) on a
JPEG group photo resized to 640x480 and to 1920x1080, after one warm-up call.

Run: .venv/bin/python bench/detector.py  (the last line names the default ``auto`` picks).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import tarfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from facepipe.local.detection import available_detectors, detect_faces_in_bytes, get_finder

OUT = Path(__file__).resolve().parent / "out"
FACES_DIR = OUT / "dlib-faces"
DLIB_SOURCE = "dlib=19.24+dfsg-1"
DEB_SRC_LINE = (
    "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
    "http://deb.debian.org/debian bookworm main\n"
)
IOU_MATCH = 0.5
MIN_CONFIDENCE = 90.0  # the detect step's default threshold
LOWER_THRESHOLD = 80.0  # shown too: YuNet's scores run lower than MTCNN's probabilities
LATENCY_SIZES = ((640, 480), (1920, 1080))
LATENCY_IMAGE = "2008_002470.jpg"  # six faces

Box = tuple[float, float, float, float]  # left, top, width, height in pixels


@dataclass(frozen=True)
class Annotated:
    path: Path
    faces: list[Box]


@dataclass
class Score:
    detector: str
    precision: float
    recall: float
    ap: float
    precision_80: float
    recall_80: float
    ms_640: float
    ms_1080: float


def fetch_dataset() -> Path:
    """dlib's examples/faces from its Debian source package, cached in bench/out/."""
    if (FACES_DIR / "testing.xml").exists():
        return FACES_DIR
    if shutil.which("apt-get") is None:
        raise SystemExit(
            "bench/detector.py needs apt-get (Debian/Ubuntu) to fetch dlib's annotated faces, "
            f"or their files (training.xml, testing.xml, *.jpg) placed in {FACES_DIR}"
        )
    apt_dir = OUT / "apt"
    for sub in ("lists/partial", "cache/archives/partial", "src"):
        (apt_dir / sub).mkdir(parents=True, exist_ok=True)
    (apt_dir / "sources.list").write_text(DEB_SRC_LINE)
    options = [
        f"-oDir::Etc::sourcelist={apt_dir / 'sources.list'}",
        "-oDir::Etc::sourceparts=-",
        f"-oDir::State::Lists={apt_dir / 'lists'}",
        f"-oDir::Cache={apt_dir / 'cache'}",
        "-oAPT::Get::List-Cleanup=0",
    ]
    if os.geteuid() == 0:
        options.append("-oAPT::Sandbox::User=root")  # our private dirs are not _apt's
    subprocess.run(["apt-get", *options, "-qq", "update"], check=True)
    subprocess.run(
        ["apt-get", *options, "-qq", "source", "--download-only", DLIB_SOURCE],
        check=True,
        cwd=apt_dir / "src",
    )
    tarball = next((apt_dir / "src").glob("dlib_*.orig.tar.*"))
    _extract_faces(tarball)
    shutil.rmtree(apt_dir)  # ~210 MB of tarballs; only the 16 files of examples/faces stay
    return FACES_DIR


def _extract_faces(tarball: Path) -> None:
    FACES_DIR.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            parts = Path(member.name).parts
            if member.isfile() and parts[-3:-1] == ("examples", "faces"):
                source = archive.extractfile(member)
                assert source is not None
                (FACES_DIR / parts[-1]).write_bytes(source.read())


def load_annotations(faces_dir: Path) -> list[Annotated]:
    images = []
    for name in ("training.xml", "testing.xml"):
        for image in ET.parse(faces_dir / name).getroot().iter("image"):
            boxes = [
                tuple(float(box.get(k, 0)) for k in ("left", "top", "width", "height"))
                for box in image.iter("box")
                if box.get("ignore") != "1"
            ]
            images.append(Annotated(faces_dir / image.get("file", ""), boxes))  # type: ignore[arg-type]
    return images


def iou(a: Box, b: Box) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    width = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    height = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = width * height
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def detections(detector: str, image: Annotated) -> list[tuple[float, Box]]:
    from PIL import Image

    data = image.path.read_bytes()
    width, height = Image.open(io.BytesIO(data)).size
    found = []
    for face in detect_faces_in_bytes(data, detector=detector):
        box = face["BoundingBox"]
        pixels = (
            box["Left"] * width,
            box["Top"] * height,
            box["Width"] * width,
            box["Height"] * height,
        )
        found.append((float(face["Confidence"]), pixels))
    return found


def match(
    images: list[Annotated], found: list[list[tuple[float, Box]]]
) -> list[tuple[float, bool]]:
    """Each detection's score and whether it is a true positive (VOC greedy matching)."""
    scored = [(s, i, box) for i, dets in enumerate(found) for s, box in dets]
    scored.sort(key=lambda item: -item[0])
    taken: set[tuple[int, int]] = set()
    outcomes = []
    for score, index, box in scored:
        overlaps = [(iou(box, truth), j) for j, truth in enumerate(images[index].faces)]
        best, j = max(overlaps, default=(0.0, -1))
        hit = best >= IOU_MATCH and (index, j) not in taken
        if hit:
            taken.add((index, j))
        outcomes.append((score, hit))
    return outcomes


def average_precision(outcomes: list[tuple[float, bool]], positives: int) -> float:
    """VOC all-points AP: area under the precision envelope over recall."""
    points, hits = [], 0
    for rank, (_, hit) in enumerate(outcomes, start=1):
        hits += hit
        points.append((hits / positives, hits / rank))
    area, previous_recall = 0.0, 0.0
    for k, (recall, _) in enumerate(points):
        envelope = max(p for _, p in points[k:])
        area += (recall - previous_recall) * envelope
        previous_recall = recall
    return area


def precision_recall(
    outcomes: list[tuple[float, bool]], positives: int, threshold: float
) -> tuple[float, float]:
    kept = [hit for score, hit in outcomes if score >= threshold]
    return (sum(kept) / len(kept) if kept else 1.0), sum(kept) / positives


def accuracy(detector: str, images: list[Annotated]) -> tuple[float, ...]:
    """Precision, recall, AP at MIN_CONFIDENCE, then precision and recall at LOWER_THRESHOLD."""
    outcomes = match(images, [detections(detector, image) for image in images])
    positives = sum(len(image.faces) for image in images)
    return (
        *precision_recall(outcomes, positives, MIN_CONFIDENCE),
        average_precision(outcomes, positives),
        *precision_recall(outcomes, positives, LOWER_THRESHOLD),
    )


def latency_ms(detector: str, photo: Path, size: tuple[int, int], repeats: int) -> float:
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(photo).convert("RGB").resize(size).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    detect_faces_in_bytes(data, detector=detector)  # warm-up: model load, first allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        detect_faces_in_bytes(data, detector=detector)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(detector: str, images: list[Annotated], repeats: int) -> Score:
    photo = FACES_DIR / LATENCY_IMAGE
    ms = [latency_ms(detector, photo, size, repeats) for size in LATENCY_SIZES]
    return Score(detector, *accuracy(detector, images), *ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per size")
    args = parser.parse_args()
    images = load_annotations(fetch_dataset())
    faces = sum(len(image.faces) for image in images)
    print(f"dataset: dlib examples/faces, {len(images)} images, {faces} faces; IoU {IOU_MATCH}")
    print(
        f"precision/recall at Confidence >= {MIN_CONFIDENCE:g}; latency = median of {args.repeats}"
    )
    print(
        f"{'detector':<8} {'precision':>9} {'recall':>7} {'AP':>5} {'P@80':>5} {'R@80':>5} "
        f"{'ms@640x480':>11} {'ms@1920x1080':>13}"
    )
    scores = {}
    for name in available_detectors():
        score = measure(name, images, args.repeats)
        scores[name] = score
        print(
            f"{name:<8} {score.precision:>9.2f} {score.recall:>7.2f} {score.ap:>5.2f} "
            f"{score.precision_80:>5.2f} {score.recall_80:>5.2f} "
            f"{score.ms_640:>11.1f} {score.ms_1080:>13.1f}"
        )
    chosen = scores[get_finder("auto").name]
    print(
        f"default={chosen.detector} precision={chosen.precision:.2f} recall={chosen.recall:.2f} "
        f"ap={chosen.ap:.2f} ms_640={chosen.ms_640:.0f} ms_1080={chosen.ms_1080:.0f}"
    )


if __name__ == "__main__":
    main()
