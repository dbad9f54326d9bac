"""Helpers shared by the adaptive convolutions."""

from __future__ import annotations

from collections.abc import Iterable

from awgnn.width import AdaptiveWidth
from awgnn.width.adaptive_width import DEFAULT_MAX_WIDTH


def max_width_repr(widths: Iterable[AdaptiveWidth]) -> str:
    """``", max_width=M"`` when a width's cap differs from the default, else ``""``."""
    caps = {w.max_width for w in widths} - {DEFAULT_MAX_WIDTH}
    return f", max_width={max(caps)}" if caps else ""
