"""Errors a user can act on: the CLI prints them as one line and exits with `exit_code`."""

INTERRUPTED = 130  # the status of a command ended by Ctrl-C (128 + SIGINT)
BATCH_FAILURES = 6  # `batch` finished, but some jobs failed (failed.jsonl)


class AlignerError(Exception):
    exit_code = 1


class InputError(AlignerError):
    """A file is missing, empty, binary, undecodable or malformed."""

    exit_code = 2


class UsageError(AlignerError):
    """Options that do not fit together."""

    exit_code = 2


class ModelError(AlignerError):
    """An encoder is unknown, not installed or not available offline."""

    exit_code = 3


class OutputError(AlignerError):
    """The output cannot be written."""

    exit_code = 4


class NothingToAlignError(AlignerError):
    """The input was read but holds no Russian–Norwegian pair to align."""

    exit_code = 5
