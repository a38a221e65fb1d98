"""sentaligner: sentence alignment of Russian and Norwegian posts into a scored parallel corpus."""

from typing import TYPE_CHECKING

from .version import __version__

if TYPE_CHECKING:
    from .pipeline import AlignmentResult, align

__all__ = ["align", "AlignmentResult", "__version__"]


def __getattr__(name: str):
    """`align` and `AlignmentResult` load the pipeline (numpy) on first use, so that the command
    line starts, and answers Ctrl-C, before any heavy import."""
    if name in ("align", "AlignmentResult"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'sentaligner' has no attribute {name!r}")
