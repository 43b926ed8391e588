"""S3 sequencers as the local bucket mints them.

S3's are hex strings that order the events of one object key (compare them with
``lambdas.domain.ordering``, the one rule both record stores use). Ours are fixed-width,
so any padding rule orders them the same way.
"""

from __future__ import annotations

# S3's sequencers are 16-18 hex digits; ours are 18, like "0064D3901D00059242".
FORMAT_WIDTH = 18


def format_sequencer(counter: int) -> str:
    """Render a counter as a fixed-width upper-case hex sequencer (width keeps order)."""
    if counter < 0 or counter >= 16**FORMAT_WIDTH:
        raise ValueError(f"sequencer counter {counter} is out of range")
    return f"{counter:0{FORMAT_WIDTH}X}"
