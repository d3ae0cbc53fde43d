"""Starting simulator processes for the agent server, and making sure they go away again.

:class:`SimulatorLauncher` runs simulator binaries (the ns-3 scenarios or the protocol probe,
located with ``xr_codec_marl.bridge.build.find_binary`` unless given as a path) as
subprocesses, each with its own seed and arguments, their stdout and stderr captured to one log
file per process. Every process is terminated, killed if it must be, and reaped on
:meth:`SimulatorLauncher.close`, or when a launcher nobody closed is garbage-collected or the
interpreter exits; on Linux the kernel also kills them if Python itself dies, so no orphaned
simulator keeps a core busy. Simulators started elsewhere need no launcher: the
server simply accepts their hello.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Self

from xr_codec_marl.lifetime import HAS_PDEATHSIG, request_parent_death_signal

log = logging.getLogger(__name__)


def resolve_binary(binary: str | os.PathLike[str]) -> str:
    """A simulator executable: an existing path as-is, else a name for ``build.find_binary``."""
    path = Path(binary)
    if path.parent != Path(".") or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"simulator binary {str(path)!r} does not exist")
        # absolute, but symlinks kept: a venv's python is a symlink that must stay one
        return str(path.absolute())
    from xr_codec_marl.bridge.build import find_binary  # the C++ build's owner provides it

    return str(find_binary(str(binary)))



@dataclass(eq=False)
class SimProcess:
    """One launched simulator: its command, process and log file."""

    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)
    reported: bool = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of the process's output (for error messages)."""
        if self._log is not None:
            self._log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def describe_exit(self) -> str:
        """``sim[seed 3] (pid 123) exited with code 1 (log: ...): <last lines>``."""
        rc = self.returncode
        how = "is still running" if rc is None else (
            f"was killed by signal {-rc}" if rc < 0 else f"exited with code {rc}"
        )
        tail = self.log_tail(4)
        return f"{self.name} (pid {self.pid}) {how} (log: {self.log_path})" + (
            f": {tail}" if tail else ""
        )

    def stop(self, grace_s: float = 1.0) -> int:
        """Terminate (SIGTERM, then SIGKILL after ``grace_s``) and reap; return the exit code."""
        if self.popen.poll() is None:
            try:
                self.popen.terminate()
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                log.warning("%s did not exit on SIGTERM within %.1f s: killing it", self.name,
                            grace_s)
                self.popen.kill()
                self.popen.wait(timeout=5.0)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None
        return int(self.popen.returncode)


def stop_processes(processes: list[SimProcess], grace_s: float = 1.0) -> None:
    """Stop every process (SIGTERM all first, so they wind down in parallel), reap them, and
    empty the list. Bounded: ``grace_s`` for all, then SIGKILL."""
    for p in processes:
        if p.alive():
            try:
                p.popen.terminate()
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace_s
    for p in processes:
        p.stop(max(deadline - time.monotonic(), 0.05))
    processes.clear()


class SimulatorLauncher:
    """Starts simulators as subprocesses with logs in ``log_dir`` and stops them all on close
    (or, if never closed, when garbage-collected or at interpreter exit)."""

    def __init__(self, log_dir: str | os.PathLike[str] | None = None) -> None:
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="xrmarl-sims-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes: list[SimProcess] = []
        self._finalizer = weakref.finalize(self, stop_processes, self.processes)

    def start(
        self,
        command: str | os.PathLike[str] | Sequence[str],
        args: Sequence[str] = (),
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> SimProcess:
        """Run ``command args...`` with stdout+stderr to ``<log_dir>/<name>.log``.

        ``command`` is a binary (path or build name) or a list whose first item is the
        executable and the rest fixed leading arguments (e.g. an interpreter and a script).
        """
        if isinstance(command, (str, os.PathLike)):
            exe, prefix = resolve_binary(command), []
        else:
            exe, prefix = resolve_binary(command[0]), [str(c) for c in command[1:]]
        name = name or f"{Path(exe).name}-{len(self.processes)}"
        argv = [exe, *prefix, *map(str, args)]
        log_path = self.log_dir / f"{name}.log"
        log_file = open(log_path, "ab")  # noqa: SIM115 - open for the process's lifetime
        log_file.write(f"$ {' '.join(argv)}\n".encode())
        log_file.flush()
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env} if env else None,
                # the simulator gets SIGTERM when this process dies, even by kill -9
                preexec_fn=request_parent_death_signal if HAS_PDEATHSIG else None,  # noqa: PLW1509
            )
        except OSError as exc:
            log_file.close()
            raise OSError(f"cannot start simulator {argv[0]!r}: {exc}") from None
        proc = SimProcess(name, argv, popen, log_path, log_file)
        self.processes.append(proc)
        log.info("started %s (pid %d), log %s", name, popen.pid, log_path)
        return proc

    def exited(self) -> list[SimProcess]:
        """Processes that exited since the last call (each reported once)."""
        out = []
        for p in self.processes:
            if not p.reported and not p.alive():
                p.reported = True
                out.append(p)
        return out

    def stop_all(self, grace_s: float = 1.0) -> None:
        """Stop every process started so far (see :func:`stop_processes`)."""
        stop_processes(self.processes, grace_s)

    def close(self) -> None:
        """Stop every process; the launcher may still start new ones afterwards."""
        self.stop_all()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
