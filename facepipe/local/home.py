"""Where the offline pipeline keeps its data: ``--home`` > ``FACEPIPE_HOME`` > ``~/.facepipe``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lambdas.domain.errors import ConfigurationError

HOME_ENV_VAR = "FACEPIPE_HOME"
DEFAULT_HOME = "~/.facepipe"


@dataclass(frozen=True)
class DataHome:
    """The data home folder and the fixed places of each local service inside it."""

    root: Path

    @property
    def buckets(self) -> Path:
        return self.root / "buckets"

    @property
    def records_db(self) -> Path:
        return self.root / "records.sqlite3"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def smtp_sent(self) -> Path:
        """Markers of emails already handed to an SMTP server (one per ``Email.dedup_id``)."""
        return self.root / "smtp-sent"

    @property
    def undelivered(self) -> Path:
        """Emails the mail server refused, kept until they are sent (the dead-letter folder)."""
        return self.root / "undelivered"

    def create(self) -> DataHome:
        """Make the folder (private to the user: it holds images and email addresses)."""
        if self.root.exists() and not self.root.is_dir():
            raise ConfigurationError(f"data home {self.root} exists but is not a folder")
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self


def resolve_home(
    override: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> DataHome:
    """The data home named by a ``--home`` value, else ``FACEPIPE_HOME``, else ``~/.facepipe``.

    Only resolves the path; call ``.create()`` before writing into it.
    """
    env = os.environ if environ is None else environ
    raw = os.fspath(override) if override is not None else env.get(HOME_ENV_VAR) or DEFAULT_HOME
    if not raw.strip():
        raise ConfigurationError("the data home path is empty; give a folder path")
    root = Path(raw).expanduser()
    if not root.is_absolute():
        root = Path.cwd() / root
    if root.exists() and not root.is_dir():
        raise ConfigurationError(f"data home {root} exists but is not a folder")
    return DataHome(root)
