"""The package version and its settings from the environment, on the ground floor so that any
module can name them without importing the package."""

import os

__version__ = "0.4.0"


def environment(name: str) -> str | None:
    """The environment variable SENTALIGNER_NAME, else ALIGNER_NAME (its name before 0.4.0)."""
    value = os.environ.get(f"SENTALIGNER_{name}")
    return value if value is not None else os.environ.get(f"ALIGNER_{name}")
