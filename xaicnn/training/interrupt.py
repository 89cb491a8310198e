"""Ctrl-C and SIGTERM during training: finish the step, save, stop - a second signal stops at once.

A signal that lands in the middle of an optimiser step would leave weights half-updated, so the first
SIGINT or SIGTERM only asks the loop to stop; the loop checks :attr:`GracefulStop.requested` between
steps, writes a checkpoint of exactly where it is and raises :class:`~xaicnn.errors.Interrupted`. A
second signal raises at once (KeyboardInterrupt, or :class:`~xaicnn.errors.Terminated`), for a step
that takes too long to wait for: the last periodic checkpoint is then what is kept.
"""
from __future__ import annotations

import signal
import sys
import threading

from ..errors import Terminated


class GracefulStop:
    """Context manager: while active, the first SIGINT/SIGTERM sets :attr:`requested` instead of raising.

    Inactive (signals behave as before) when ``enabled`` is false or off the main thread, where Python
    can't install handlers (then ``requested`` stays false)."""

    def __init__(self, enabled: bool = True, notice: str = "stopping after this step to save the run; "
                                                            "press Ctrl-C again to stop at once"):
        self.enabled = enabled
        self.notice = notice
        self.requested = False
        self.terminated = False  # the request was a SIGTERM (exit 143), not Ctrl-C (130)
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.requested:  # the second signal: stop now
            raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        self.requested = True
        self.terminated = signum == signal.SIGTERM
        print(f"\n{self.notice}", file=sys.stderr, flush=True)

    def __enter__(self) -> "GracefulStop":
        if self.enabled and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
