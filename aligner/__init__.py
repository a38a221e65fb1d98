"""aligner: sentence alignment of Russian and Norwegian posts into a scored parallel corpus."""

from .pipeline import AlignmentResult, align
from .version import __version__

__all__ = ["align", "AlignmentResult", "__version__"]
