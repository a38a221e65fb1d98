"""sentaligner: sentence alignment of a text and its translation into a scored parallel corpus.

`align`, `align_files` and `align_channel` return an `Alignment` (see `sentaligner.api`)."""

from typing import TYPE_CHECKING

from .version import __version__

if TYPE_CHECKING:
    from .api import Alignment, align, align_channel, align_files

__all__ = ["Alignment", "align", "align_channel", "align_files", "__version__"]


def __getattr__(name: str):
    """The API loads the pipeline (numpy) on first use, so that the command line starts, and
    answers Ctrl-C, before any heavy import."""
    if name in ("Alignment", "align", "align_channel", "align_files"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'sentaligner' has no attribute {name!r}")
