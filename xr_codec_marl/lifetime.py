"""Child processes that die with their parent, so a `kill -9` leaves no orphans behind.

On Linux a child asks the kernel for a signal when its parent dies (``PR_SET_PDEATHSIG``);
elsewhere a daemon thread notices the parent is gone (its parent pid changes) and exits.
Used by the sweep's process pool; the ns-3 launcher does the same between fork and exec.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time

try:  # bound at import, so the child makes one C call
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux/glibc
    _prctl = None

_PR_SET_PDEATHSIG = 1
#: whether the kernel can signal a child when its parent dies (Linux)
HAS_PDEATHSIG = _prctl is not None


def request_parent_death_signal(sig: int = signal.SIGTERM) -> None:  # pragma: no cover
    """Ask Linux to send ``sig`` to this process when its parent dies.

    One C call, so it is safe as a ``subprocess`` ``preexec_fn`` (between fork and exec).
    """
    _prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Make this process end when ``parent_pid`` dies (call first thing in the child).

    ``parent_pid`` is the parent's pid as the parent saw it: if it is already gone when this
    runs (a race the kernel signal cannot catch), the child exits at once.
    """
    if HAS_PDEATHSIG:
        request_parent_death_signal(sig)
    else:
        threading.Thread(target=_watch_parent, args=(parent_pid, sig), daemon=True,
                         name="die-with-parent").start()
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)


def _watch_parent(parent_pid: int, sig: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os.kill(os.getpid(), sig)
