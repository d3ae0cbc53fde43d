"""The agent server's socket: one ZeroMQ ROUTER serving many simulator sessions at once.

Each simulator connects a DEALER socket (its routing identity names it) and speaks the
request/reply dialogue of ``proto/xrmarl/v1/bridge.proto``. :class:`BridgeServer` runs that
dialogue for every simulator and hands its user (``Ns3Env``, ``xr-marl serve``) plain events:
a simulator :class:`Joined`, sent a :class:`StepReceived` (the user answers with
:meth:`BridgeServer.send_action`), or :class:`Ended` (finished, left, died, went silent, or broke
the protocol — with the reason). Protocol faults get an ``Error`` reply and a log line, never
an exception out of :meth:`BridgeServer.poll`, so one bad simulator cannot stop the others.

Single-threaded by design: every call happens on the caller's thread, so the hot path is
recv -> decode -> (user's policy) -> encode -> send with no locks or queues in between.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Self

import numpy as np
import zmq
from zmq import zmq_poll

from xr_codec_marl.bridge import wire
from xr_codec_marl.bridge.wire import Code, WireError, WireLayout, WireStep
from xr_codec_marl.bridge.proto import bridge_pb2 as pb
from xr_codec_marl.core.api import EnvSpec
from xr_codec_marl.errors import UsageError, describe_exception

log = logging.getLogger(__name__)

#: Where the server binds unless told otherwise (loopback: nothing is exposed by default).
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"
#: Seconds a simulator may stay silent while the server waits for it before it counts as dead.
DEFAULT_TIMEOUT_S = 30.0
#: How often (s) :meth:`BridgeServer.poll` looks for sessions silent past their deadline.
EXPIRY_CHECK_S = 0.02


def check_endpoint(endpoint: str) -> str:
    """``endpoint`` unchanged if its TCP port is ``*``, ``0`` (both: any free port) or
    1-65535; raises ``UsageError`` otherwise.

    Checked here because ZeroMQ silently wraps a port beyond 65535 (``:99999`` binds 34463).
    Other transports (``ipc://PATH``, ``inproc://NAME``) are left to ZeroMQ to judge.
    """
    if not endpoint.startswith("tcp://"):
        return endpoint
    host, sep, port = endpoint[len("tcp://"):].rpartition(":")
    if not sep or not host:
        raise UsageError(f"endpoint {endpoint!r} is not tcp://HOST:PORT")
    if port != "*" and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise UsageError(f"endpoint {endpoint!r}: port {port!r} is not in 1-65535 (or * for "
                         "any free port)")
    return endpoint


def _release(sock: zmq.Socket, ctx: zmq.Context | None) -> None:
    """Close the socket at once and end its own context (never blocks: linger 0).

    Also the finalizer of a server nobody closed: runs on garbage collection or at interpreter
    exit, before pyzmq's ``Context.__del__`` could block in ``term()`` on the open socket.
    """
    if not sock.closed:
        sock.close(linger=0)
    if ctx is not None and not ctx.closed:
        ctx.term()


_SNDMORE_NOBLOCK = int(zmq.SNDMORE | zmq.NOBLOCK)
_NOBLOCK = int(zmq.NOBLOCK)
_RCVMORE = int(zmq.RCVMORE)


class SessionState(Enum):
    """Whose turn it is in a session's request/reply dialogue."""

    SIM_TURN = "sim"  # we replied (welcome/action); the simulator owes the next message
    OUR_TURN = "ours"  # the simulator sent a step; we owe the reply
    CLOSE_PENDING = "close-pending"  # user asked to close; reply Close to the next step
    CLOSING = "closing"  # Close sent; waiting for the goodbye (no events any more)


@dataclass(eq=False)
class Session:
    """One simulator's episode as seen by the server."""

    session_id: str
    identity: bytes
    hello: pb.Hello
    spec: EnvSpec
    layout: WireLayout
    framing: tuple[bytes, ...]
    state: SessionState = SessionState.SIM_TURN
    next_index: int = 0
    pending: WireStep | None = None
    deadline: float = 0.0
    close_reason: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def seed(self) -> int:
        return int(self.hello.seed)

    @property
    def name(self) -> str:
        return f"session {self.session_id} ({self.identity!r}, seed {self.hello.seed})"


@dataclass(frozen=True)
class Joined:
    """A simulator's hello was accepted and welcomed; its step 0 follows."""

    session: Session


@dataclass(frozen=True)
class StepReceived:
    """A simulator sent a step; unless ``step.done``, answer with :meth:`BridgeServer.send_action`.

    ``step`` carries everything the simulator sent, including ``global_kpis`` ``[G]`` and
    ``agent_rewards`` ``[N, C]`` (``None`` where it sent none)."""

    session: Session
    step: WireStep


@dataclass(frozen=True)
class Ended:
    """A session is over. ``clean``: the episode finished and the simulator said goodbye;
    otherwise ``reason`` says what went wrong (died, silent, left, protocol error)."""

    session: Session
    reason: str
    clean: bool


Event = Joined | StepReceived | Ended

class Deferred:
    """What ``admit`` returns to leave a hello unanswered for now: the simulator waits (within
    its own timeout) until :meth:`BridgeServer.readmit` asks ``admit`` again."""

    def __repr__(self) -> str:
        return "DEFER"


DEFER = Deferred()

#: ``admit(hello, spec)``: ``None`` accepts the simulator, a string refuses it with that
#: reason, :data:`DEFER` keeps it waiting for :meth:`BridgeServer.readmit`.
AdmitFn = Callable[[pb.Hello, EnvSpec], "str | Deferred | None"]


class BridgeServer:
    """One bound ROUTER socket and the sessions of every simulator talking to it.

    ``endpoint``: ``tcp://HOST:PORT`` (``tcp://127.0.0.1:*`` picks a free port; see
    :attr:`endpoint` for the bound one) or ``ipc://PATH``. ``expected_spec``: refuse hellos that
    announce anything else. ``timeout_s``: how long a simulator may stay silent when it owes a
    message. ``admit``: extra admission rule (e.g. ``Ns3Env`` accepts only the seeds it launched).
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        expected_spec: EnvSpec | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        admit: AdmitFn | None = None,
        context: zmq.Context | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        check_endpoint(endpoint)
        self.expected_spec = expected_spec
        self.timeout_s = float(timeout_s)
        self.admit = admit
        self._own_ctx = context is None
        self._ctx = context or zmq.Context()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # unroutable sends raise, never vanish
        self._sock.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a restarted sim may reuse its identity
        # ZeroMQ drops a peer whose message is larger, before buffering it (wire.LIMITS)
        self._sock.setsockopt(zmq.MAXMSGSIZE, wire.LIMITS.message_bytes)
        # close or not, the socket goes without blocking: on GC, at exit, or in close()
        self._finalizer = weakref.finalize(self, _release, self._sock,
                                           self._ctx if self._own_ctx else None)
        try:
            self._sock.bind(endpoint)
        except zmq.ZMQError as exc:
            self._finalizer()
            raise OSError(f"cannot bind the bridge server to {endpoint!r}: {exc}") from None
        self.endpoint: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self._poll_items = [(self._sock, int(zmq.POLLIN))]
        self._check_at = 0.0
        self._by_identity: dict[bytes, Session] = {}
        #: hellos ``admit`` deferred: identity -> (framing, hello, when it arrived)
        self._deferred: dict[bytes, tuple[tuple[bytes, ...], pb.Hello, float]] = {}
        self._sessions: dict[str, Session] = {}
        self._queued: list[Event] = []
        self._counter = itertools.count(1)
        self._closed = False
        log.info("bridge server listening on %s", self.endpoint)

    # ------------------------------------------------------------------ public API
    @property
    def sessions(self) -> dict[str, Session]:
        """Live sessions by id (including ones closing)."""
        return self._sessions

    def poll(self, timeout_s: float) -> list[Event]:
        """Handle incoming messages for up to ``timeout_s``; return as soon as there are events.

        Never raises for anything a simulator sends; expired silences become :class:`Ended`.
        Hot path: one ``zmq_poll`` and one receive per message, silences checked every
        ``EXPIRY_CHECK_S`` at most.
        """
        events, self._queued = self._queued, []
        now = time.monotonic()
        deadline = now + max(timeout_s, 0.0)
        items = self._poll_items
        sock = self._sock
        recv = sock.recv
        while True:
            if now >= self._check_at:
                self._expire(now, events)
                self._check_at = now + EXPIRY_CHECK_S
            if events:
                return events
            wait_ms = max(int((min(deadline, self._check_at) - now) * 1000.0 + 0.999), 0)
            if zmq_poll(items, wait_ms):
                try:  # a ROUTER message is [identity, payload, ...]: two receives, one check
                    identity = recv(_NOBLOCK)
                    data = recv(_NOBLOCK)
                except zmq.Again:
                    identity = None
                if identity is not None:
                    if sock.getsockopt(_RCVMORE):
                        frames = [identity, data]
                        while sock.getsockopt(_RCVMORE):
                            frames.append(recv(_NOBLOCK))
                        self._handle(frames, events)
                    else:
                        self._handle_one(identity, data, events)
            now = time.monotonic()
            if events or now >= deadline:
                if now >= self._check_at:
                    self._expire(now, events)
                    self._check_at = now + EXPIRY_CHECK_S
                return events

    def send_action(self, session_id: str, actions: Sequence[int] | np.ndarray,
                    continuous: Sequence[Sequence[float]] | np.ndarray | None = None) -> bool:
        """Answer a session's pending step with one action per agent (the joint discrete
        index) and, for agents with hybrid action spaces, ``continuous`` values ``[N, D]``
        (``D`` = the session's most continuous dimensions of an agent; columns beyond an
        agent's own are ignored; required exactly when ``D > 0``).

        Returns ``False`` if the session is gone or closing (its :class:`Ended` event says
        why). Raises ``ValueError`` (a :class:`WireError` with ``CODE_ACTION``) for an action
        vector of the wrong length, out of range or unavailable, or continuous values of the
        wrong shape, non-finite or out of their bounds — nothing is sent then.
        """
        s = self._sessions.get(session_id)
        if s is None or s.state is not SessionState.OUR_TURN:
            if s is not None and s.state is SessionState.SIM_TURN:
                raise RuntimeError(f"{s.name} has no step waiting for an action")
            return False
        step = s.pending
        acts = wire.check_actions(actions, s.layout, step.avail_actions)
        cont = wire.check_continuous(continuous, s.layout)
        if not self._send_bytes(s.framing, wire.encode_action(s.session_id, step.step_index,
                                                                acts, cont)):
            self._end(s, "simulator unreachable when sending its action", clean=False)
            return False
        s.state = SessionState.SIM_TURN
        s.pending = None
        s.deadline = time.monotonic() + self.timeout_s
        return True

    def readmit(self) -> None:
        """Ask ``admit`` again about every deferred hello (oldest first); :meth:`poll` reports
        the joins. A simulator that gave up waiting meanwhile is unreachable for the welcome or
        goes silent, so it never takes a worker slot for long; hellos older than ten timeouts
        are dropped."""
        now = time.monotonic()
        pending, self._deferred = self._deferred, {}
        for identity, (framing, hello, since) in sorted(pending.items(), key=lambda x: x[1][2]):
            if now - since > 10 * self.timeout_s:
                log.info("deferred hello from %r expired", identity)
                continue
            self._on_hello(identity, framing, self._by_identity.get(identity), hello,
                           self._queued)
            if identity in self._deferred:  # deferred again: keep its original arrival time
                self._deferred[identity] = (framing, hello, since)

    def close_session(self, session_id: str, reason: str) -> None:
        """End a session from our side (no :class:`Ended` event): the simulator gets ``Close``
        as the reply to its pending or next step."""
        s = self._sessions.get(session_id)
        if s is None or s.state is SessionState.CLOSING:
            return
        s.close_reason = reason
        if s.state is SessionState.OUR_TURN:
            self._send(s.framing, wire.close_envelope(s.session_id, reason))
            s.state = SessionState.CLOSING
        else:
            s.state = SessionState.CLOSE_PENDING
        s.deadline = time.monotonic() + self.timeout_s
        log.info("%s: closing (%s)", s.name, reason)

    def abort_session(self, session_id: str, code: int, reason: str) -> None:
        """End a session with a fatal ``Error`` (e.g. its policy failed); queues :class:`Ended`.

        The ``Error`` goes out whether or not a step is waiting: a simulator that owes us its
        next message reads it as the reply to that message. Only one already closed gets none.
        """
        s = self._sessions.get(session_id)
        if s is None:
            return
        if s.state is not SessionState.CLOSING:
            self._send(s.framing, wire.error_envelope(code, reason, fatal=True))
        log.warning("%s: aborted: %s: %s", s.name, wire.code_name(code), reason)
        self._end(s, reason, clean=False)

    def close(self) -> None:
        """Tell every simulator waiting on us that the server is going, then release the socket."""
        if self._closed:
            return
        self._closed = True
        for s in list(self._sessions.values()):
            if s.state is SessionState.OUR_TURN:
                self._send(s.framing, wire.close_envelope(s.session_id, "server shutting down"))
        self._sessions.clear()
        self._by_identity.clear()
        self._sock.close(linger=100)  # let the Close messages out, never block for long
        self._finalizer()  # ends our own context; nothing left to do on GC

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ receiving
    def _handle_one(self, identity: bytes, data: bytes, events: list[Event]) -> None:
        """A one-frame message (the normal case): a session's step takes the fast path."""
        session = self._by_identity.get(identity)
        if session is not None:
            raw = wire.parse_step_envelope(data)
            if raw is not None:
                self._on_step((identity,), session, raw, events)
                return
        self._handle([identity, data], events, fast_tried=session is not None)

    def _handle(self, frames: list[bytes], events: list[Event], fast_tried: bool = False) -> None:
        identity = frames[0]
        session = self._by_identity.get(identity)
        if len(frames) == 2:
            framing: tuple[bytes, ...] = (identity,)
        elif len(frames) == 3 and frames[1] == b"":
            framing = (identity, b"")  # a REQ client: keep its empty delimiter
        else:
            self._refuse(
                (identity,), session, events,
                WireError(Code.CODE_BAD_MESSAGE,
                          f"expected one frame per message, got {len(frames) - 1}"),
            )
            return
        data = frames[-1]
        if session is not None and not fast_tried:  # a step, read straight from the bytes
            raw = wire.parse_step_envelope(data)
            if raw is not None:
                self._on_step(framing, session, raw, events)
                return
        try:
            env = wire.decode(data)
        except WireError as err:
            self._refuse(framing, session, events, err)
            return
        kind = env.WhichOneof("body")
        if kind == "step":
            self._on_step(framing, session, wire.raw_step_from_pb(env.step), events)
        elif kind == "hello":
            self._on_hello(identity, framing, session, env.hello, events)
        elif kind == "goodbye":
            self._on_goodbye(identity, session, env.goodbye, events)
        elif kind == "error":
            self._on_sim_error(identity, session, env.error, events)
        else:
            self._refuse(
                framing, session, events,
                WireError(Code.CODE_UNEXPECTED, f"a simulator may not send {kind!r}"),
            )

    def _on_hello(
        self,
        identity: bytes,
        framing: tuple[bytes, ...],
        old: Session | None,
        hello: pb.Hello,
        events: list[Event],
    ) -> None:
        if old is not None:
            if old.state is SessionState.CLOSING:  # its episode was over: a clean restart
                self._forget(old)
            else:
                self._end(old, "simulator sent a new hello (restarted?)", clean=False,
                          events=events)
        try:
            wire.check_hello(hello, self.expected_spec)
            spec = wire.spec_from_hello(hello)
            if self.admit is not None:
                refusal = self.admit(hello, spec)
                if refusal is DEFER:
                    self._deferred[identity] = (framing, hello, time.monotonic())
                    log.info("hello from %r (seed %d): waiting to be admitted", identity,
                             hello.seed)
                    return
                if refusal:
                    raise WireError(Code.CODE_UNEXPECTED, refusal)
        except WireError as err:
            self._refuse(framing, None, events, err, who=f"hello from {identity!r}")
            return
        except Exception as exc:  # noqa: BLE001 - an admit hook's bug must not stop the server
            self._refuse(framing, None, events, WireError(
                Code.CODE_INTERNAL, f"cannot admit this simulator: {describe_exception(exc)}"),
                who=f"hello from {identity!r}")
            return
        sid = f"{next(self._counter):04d}-{secrets.token_hex(3)}"
        s = Session(sid, identity, hello, spec, WireLayout.from_spec(spec), framing)
        if not self._send(framing, wire.welcome_envelope(sid)):
            log.warning("hello from %r: simulator unreachable for the welcome", identity)
            return
        s.deadline = time.monotonic() + self.timeout_s
        self._sessions[sid] = s
        self._by_identity[identity] = s
        log.info("%s joined: scenario %r, %d agents", s.name, hello.scenario, len(hello.agents))
        events.append(Joined(s))

    def _on_step(
        self,
        framing: tuple[bytes, ...],
        s: Session | None,
        raw: wire.RawStep,
        events: list[Event],
    ) -> None:
        if s is None or raw.session_id != s.session_id:
            self._refuse(
                framing, s, events,
                WireError(Code.CODE_UNKNOWN_SESSION,
                          f"unknown session {raw.session_id!r}; send a hello first"),
            )
            return
        if s.state is SessionState.CLOSE_PENDING or s.state is SessionState.CLOSING:
            self._send(framing, wire.close_envelope(s.session_id, s.close_reason))
            s.state = SessionState.CLOSING
            s.deadline = time.monotonic() + self.timeout_s
            return
        if s.state is SessionState.OUR_TURN:
            self._refuse(framing, s, events, WireError(
                Code.CODE_UNEXPECTED, f"step {raw.step_index} before our reply to the last one"))
            return
        if raw.step_index != s.next_index:
            self._refuse(framing, s, events, WireError(
                Code.CODE_UNEXPECTED, f"step index {raw.step_index}, expected {s.next_index}"))
            return
        try:
            ws = wire.check_step(raw, s.layout)
        except WireError as err:
            self._refuse(framing, s, events, err)
            return
        s.next_index += 1
        s.pending = ws
        s.framing = framing
        if ws.terminated or ws.truncated:
            reason = "episode over" if ws.terminated else (ws.truncation_reason or "truncated")
            self._send(framing, wire.close_envelope(s.session_id, reason))
            s.close_reason = reason
            s.state = SessionState.CLOSING
            s.deadline = time.monotonic() + self.timeout_s
        else:
            s.state = SessionState.OUR_TURN
        events.append(StepReceived(s, ws))

    def _on_goodbye(
        self, identity: bytes, s: Session | None, bye: pb.Goodbye, events: list[Event]
    ) -> None:
        if s is None or (bye.session_id and bye.session_id != s.session_id):
            self._deferred.pop(identity, None)
            log.debug("goodbye from %r without a session (%s)", identity, bye.reason)
            return
        if s.state is SessionState.CLOSING or s.state is SessionState.CLOSE_PENDING:
            self._forget(s)  # we had ended it already: a clean end whatever it says
            log.info("%s: goodbye (%s)", s.name, bye.reason or "no reason")
            events.append(Ended(s, s.close_reason or bye.reason, clean=True))
        else:
            self._end(s, f"simulator left mid-episode: {bye.reason or 'no reason given'}",
                      clean=False, events=events)

    def _on_sim_error(
        self, identity: bytes, s: Session | None, err: pb.Error, events: list[Event]
    ) -> None:
        text = f"simulator reported {wire.code_name(err.code)}: {err.message}"
        if s is None:
            log.warning("%r (no session): %s", identity, text)
            return
        self._end(s, text, clean=False, events=events)

    # ------------------------------------------------------------------ faults and endings
    def _refuse(
        self,
        framing: tuple[bytes, ...],
        s: Session | None,
        events: list[Event],
        err: WireError,
        who: str | None = None,
    ) -> None:
        """Reply ``Error``, log it, and end the simulator's session when the error is fatal."""
        who = who or (s.name if s is not None else f"simulator {framing[0]!r} (no session)")
        log.warning("refused %s: %s", who, err)
        self._send(framing, err.to_envelope())
        if s is not None and err.fatal and s.session_id in self._sessions:
            self._end(s, f"protocol error: {err}", clean=False, events=events)

    def _expire(self, now: float, events: list[Event]) -> None:
        """Sessions silent past their deadline: dead or hung simulators."""
        for s in list(self._sessions.values()):
            if s.state is SessionState.OUR_TURN or now < s.deadline:
                continue
            if s.state is SessionState.SIM_TURN:
                self._send(s.framing, wire.error_envelope(
                    Code.CODE_TIMEOUT, f"no message within {self.timeout_s:g} s", fatal=True))
                self._end(s, f"simulator silent for {self.timeout_s:g} s (dead or hung)",
                          clean=False, events=events)
            else:  # closing: the goodbye never came; the episode was over anyway
                log.debug("%s: no goodbye after close; forgetting it", s.name)
                self._forget(s)

    def _end(self, s: Session, reason: str, clean: bool, events: list[Event] | None = None) -> None:
        if s.session_id not in self._sessions:
            return
        self._forget(s)
        (log.info if clean else log.warning)("%s ended: %s", s.name, reason)
        (events if events is not None else self._queued).append(Ended(s, reason, clean))

    def _forget(self, s: Session) -> None:
        self._sessions.pop(s.session_id, None)
        if self._by_identity.get(s.identity) is s:
            del self._by_identity[s.identity]

    def _send(self, framing: tuple[bytes, ...], env: pb.Envelope) -> bool:
        """Send without blocking; ``False`` if the peer is gone or not reading."""
        return self._send_bytes(framing, env.SerializeToString())

    def _send_bytes(self, framing: tuple[bytes, ...], data: bytes) -> bool:
        sock = self._sock
        try:
            for frame in framing:
                sock.send(frame, _SNDMORE_NOBLOCK)
            sock.send(data, _NOBLOCK)
            return True
        except zmq.ZMQError as exc:  # EHOSTUNREACH (ROUTER_MANDATORY) or Again (HWM)
            log.debug("send to %r failed: %s", framing[0], exc)
            return False
