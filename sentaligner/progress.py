"""Progress of long work on stderr: a bar on a terminal (rich); elsewhere (a log file, a pipe, CI)
a line every SENTALIGNER_PROGRESS_INTERVAL seconds (10 by default) while the work goes on, naming
the stage under way, so that a long run is seen to be alive; nothing with --quiet."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from .version import environment

DEFAULT_INTERVAL = 10.0


def line_interval() -> float:
    """Seconds between two progress lines off a terminal (SENTALIGNER_PROGRESS_INTERVAL, else 10)."""
    try:
        return max(0.05, float(environment("PROGRESS_INTERVAL") or DEFAULT_INTERVAL))
    except ValueError:
        return DEFAULT_INTERVAL


class _CountColumn(MofNCompleteColumn):
    """done/total, or nothing while the total is unknown."""

    def render(self, task):
        return super().render(task) if task.total is not None else Text("")


class StageProgress:
    """`with StageProgress(quiet) as progress:` then `advance = progress.stage(name, total)` as
    each stage starts (total None when unknown), `advance(n)` as work is done, and
    `progress.detail(text)` for a running count shown beside it."""

    def __init__(self, quiet: bool, first_stage: str = "starting", interval: float | None = None) -> None:
        self.console = Console(stderr=True)
        self.quiet = quiet
        self.interval = interval if interval is not None else line_interval()
        self.name, self.done, self.extra = first_stage, 0, ""
        self.total: int | None = None
        self.started = time.monotonic()
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StageProgress:
        if self.quiet:
            return self
        if self.console.is_terminal:
            self._bar = Progress(TextColumn("{task.description:22}"), BarColumn(), _CountColumn(),
                                 TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=self.console,
                                 transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.name, total=None, detail="")
        else:
            self._thread = threading.Thread(target=self._lines, name="sentaligner-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        if self._bar is not None:
            self._bar.__exit__(kind, error, traceback)
        if self._thread is not None:
            self._thread.join()

    def stage(self, name: str, total: int | None = None) -> Callable[[int], None]:
        self.name, self.total, self.done = name, total, 0
        if self._bar is not None and self._task is not None:
            self._bar.reset(self._task, description=name, total=total)
        return self.advance

    def advance(self, done: int = 1) -> None:
        self.done += done
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, done)

    def detail(self, text: str) -> None:
        self.extra = text
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, detail=text)

    def line(self) -> str:
        count = f" {self.done:,}/{self.total:,}" if self.total is not None else ""
        extra = f"; {self.extra}" if self.extra else ""
        return f"sentaligner: {self.name}{count}{extra} ({time.monotonic() - self.started:.0f} s)"

    def _lines(self) -> None:
        while not self._stop.wait(self.interval):
            print(self.line(), file=sys.stderr, flush=True)
