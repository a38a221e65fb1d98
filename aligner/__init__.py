"""aligner: sentence alignment of Russian and Norwegian posts into a scored parallel corpus."""

__version__ = "0.1.0"

from . import align as _align_module  # noqa: F401  (loaded first so `align` below stays the function)
from .pipeline import AlignmentResult, align

__all__ = ["align", "AlignmentResult", "__version__"]
