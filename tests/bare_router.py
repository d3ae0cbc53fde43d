"""A simulator driven by a bare ZeroMQ ROUTER: for what the Python server would never send.

``bare_simulator`` starts a scenario binary against a ROUTER socket, waits for its hello and
yields a :class:`BareSession`; the simulator is killed and the socket closed afterwards.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import zmq

from xr_codec_marl.bridge import wire
from xr_codec_marl.bridge.build import find_binary
from xr_codec_marl.bridge.wire import Code

EXIT_BAD_ACTION = 4  # xrmarl::EXIT_BAD_ACTION


@dataclass
class BareSession:
    """One simulator's session: its hello, and the socket to answer it on."""

    binary: str
    router: zmq.Socket
    ident: bytes
    hello: Any
    proc: subprocess.Popen
    wait_s: float

    def welcome(self) -> None:
        """Welcome the simulator as session ``s1`` and take its first step (index 0)."""
        self.router.send_multipart([self.ident, wire.encode(wire.welcome_envelope("s1"))])
        assert self.router.poll(int(self.wait_s * 1000)), f"no step 0 from {self.binary}"
        self.ident, data = self.router.recv_multipart()
        assert wire.decode(data).step.step_index == 0

    def assert_refused(self, heads: Sequence[int], continuous: Sequence[float], words: str) -> None:
        """Send step 0's action; the simulator answers CODE_ACTION naming ``words`` and exits
        with EXIT_BAD_ACTION, saying ``words`` on stderr too."""
        self.router.send_multipart([self.ident, wire.encode(
            wire.action_envelope("s1", 0, list(heads), list(continuous)))])
        assert self.router.poll(int(self.wait_s * 1000)), "no reply to a bad action"
        _, reply = self.router.recv_multipart()
        err = wire.decode(reply).error
        assert err.code == Code.CODE_ACTION and words in err.message, err.message
        _, stderr = self.proc.communicate(timeout=self.wait_s)
        assert self.proc.returncode == EXIT_BAD_ACTION
        assert words in stderr


@contextmanager
def bare_simulator(binary: str, args: Sequence[str], wait_s: float) -> Iterator[BareSession]:
    """Start ``binary`` with ``args`` against a fresh ROUTER and yield once its hello came."""
    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    proc = subprocess.Popen([str(find_binary(binary)), f"--endpoint=tcp://127.0.0.1:{port}",
                             f"--timeoutMs={int(wait_s * 1000)}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert router.poll(int(wait_s * 1000)), f"no hello from {binary}"
        ident, data = router.recv_multipart()
        yield BareSession(binary, router, ident, wire.decode(data).hello, proc, wait_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        router.close(0)
