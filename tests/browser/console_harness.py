"""What the browser tests share: Chromium's path and flags, the running console, limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facepipe.local.runtime import LocalPipeline

CHROMIUM = "/usr/bin/chromium"
FOREIGN_HOST = "evil.example"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A foreign site on this machine, as DNS rebinding makes one: evil.example is 127.0.0.1.
    f"--host-resolver-rules=MAP {FOREIGN_HOST} 127.0.0.1",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# Small enough that a test can send a larger body quickly; the samples are well under it.
TEST_UPLOAD_LIMIT = 1024 * 1024


@dataclass
class RunningConsole:
    url: str
    pipeline: LocalPipeline
    samples: dict[str, Path]

    def stored_keys(self) -> list[str]:
        """The keys in the local bucket (none before the first upload creates it)."""
        from lambdas.domain.errors import InvalidS3ObjectException

        try:
            found = self.pipeline.objects.list_objects(self.pipeline.options.bucket)
        except InvalidS3ObjectException:
            return []
        return [stored.key for stored in found]
