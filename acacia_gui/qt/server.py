"""LocalServer: the app's QLocalServer, answering JSON lines through the Dispatcher.

Everything here runs on the main thread (the server's thread). Events from the core's
bus may be published on any thread; a queued signal brings them here before anything
touches a socket. Each connection has bounded buffers: a line longer than the limit
is answered with an error and skipped, a client that does not read its replies is
dropped once its unsent output passes a limit, and a silent client is closed after
an idle timeout (unless it is watching), and a burst of requests is answered a slice of
time at a time, so one client cannot starve the worker, the window or other clients.

A client may shut down its write side after its requests (`printf … | socat`): every
line it sent is still answered — a last line without its newline too — and the
connection is closed once the replies are written (or, if it started a job watch,
once the watch ends). QLocalServer only listens; each accepted connection is a
LocalStream (stream.py), because QLocalSocket closes on end-of-file.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtNetwork import QLocalServer

from ..core.definitions import DEFAULT_MAX_LINE_BYTES, EventKind
from ..core.errors import AcaciaError
from ..core.events import JobEvent
from ..ipc.address import peer_allowed, peer_credentials, prepare_socket_dir, someone_listens
from ..ipc.dispatch import Dispatcher
from ..ipc.protocol import (
    AccessDeniedError,
    AlreadyRunningError,
    BadRequest,
    InternalError,
    LineTooLongError,
    ProtocolError,
    ServerBusyError,
    ServerError,
    encode_message,
    end_message,
    error_reply,
    event_message,
    ok_reply,
    parse_request,
    valid_request_id,
)
from ..ipc.watch import END, IDLE, Watch
from .stream import LocalStream

log = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT = 300.0  # seconds a connection may stay silent (not watching) before it is closed
DEFAULT_MAX_CLIENTS = 512
DEFAULT_LINE_TIMEOUT = 5.0  # seconds a started request line has to reach its newline before the connection is dropped
RESERVED_CLIENTS = 8  # connections accepted beyond max_clients, that may only send RESERVED_OPS
RESERVED_OPS = frozenset({"hello", "stats", "cancel"})
DEFAULT_MAX_PENDING_OUTPUT = 8 * 1024 * 1024  # unsent bytes before a non-reading client is dropped
MAX_WATCHES_PER_CONNECTION = 32
WATCH_HIGH_WATER = 1024 * 1024  # unsent bytes above which a job watch waits for its client to read
WATCH_RETRY_MS = 10  # how soon a waiting job watch looks again
TURN_BUDGET = 0.02  # seconds of requests one connection may run before the event loop gets a turn


@dataclass
class _Connection:
    id: int
    socket: LocalStream
    peer: str
    buffer: bytearray = field(default_factory=bytearray)
    discarding: bool = False  # inside a line that was too long: skip to its newline
    watches: dict[int, tuple[Any, Watch]] = field(default_factory=dict)
    last_activity: float = field(default_factory=time.monotonic)
    closed: bool = False
    resume_posted: bool = False  # its remaining lines wait for the next event-loop turn
    line_started: float | None = None  # when the unfinished line at the end of `buffer` began (None: no such line)
    reserved: bool = False  # accepted beyond max_clients: RESERVED_OPS only, and closed once silent for line_timeout
    requests: int = 0  # lines received so far (a reserved connection that sent none yet may be evicted)


class _Listener(QLocalServer):
    """QLocalServer that hands each accepted descriptor to `on_accept` (no QLocalSocket)."""

    def __init__(self, on_accept: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_accept = on_accept

    def incomingConnection(self, socketDescriptor: int) -> None:  # Qt's virtual, so Qt's names
        self._on_accept(int(socketDescriptor))


class _EventRelay(QObject):
    """Carries bus events (any thread) to the server's thread: one queued signal per burst.

    A batch enqueue publishes thousands of events at once; they wait in a deque and the
    server takes them all on one wake-up instead of one posted signal each.
    """

    ready = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._pending: deque[JobEvent] = deque()

    def publish(self, event: JobEvent) -> None:
        with self._lock:
            self._pending.append(event)
            first = len(self._pending) == 1
        if first:
            self.ready.emit()

    def drain(self) -> list[JobEvent]:
        with self._lock:
            events = list(self._pending)
            self._pending.clear()
        return events


class LocalServer(QObject):
    """One server per data directory. `start()` raises AlreadyRunningError or ServerError."""

    client_refused = Signal(str)  # a peer that is not our user (also logged)
    client_dropped = Signal(str)  # a client dropped for misbehaving (also logged)

    def __init__(self, dispatcher: Dispatcher, address: str, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                 parent: QObject | None = None, idle_timeout: float | None = None,
                 max_clients: int = DEFAULT_MAX_CLIENTS,
                 max_pending_output: int = DEFAULT_MAX_PENDING_OUTPUT,
                 line_timeout: float | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.dispatcher = dispatcher
        self.address = address
        self.max_line_bytes = max(1024, int(max_line_bytes))
        self.idle_timeout = idle_timeout if idle_timeout is not None else _env_seconds(
            "ACACIA_SOCKET_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT)  # fmt: skip
        self.line_timeout = line_timeout if line_timeout is not None else _env_seconds(
            "ACACIA_SOCKET_LINE_TIMEOUT", DEFAULT_LINE_TIMEOUT)  # fmt: skip
        self.max_clients = max_clients
        self.max_pending_output = max_pending_output
        self._server = _Listener(self._on_accepted, self)
        self._fork_guard = False
        self._listen_fd: int | None = None  # the listening socket's descriptor, while listening
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.setMaxPendingConnections(256)
        if hasattr(self._server, "setListenBacklogSize"):
            self._server.setListenBacklogSize(256)
        self._connections: dict[int, _Connection] = {}
        self._reserved: set[int] = set()  # ids of the connections accepted beyond max_clients
        self._leaving: dict[int, LocalStream] = {}  # refused, flushing their last words
        self._next_id = 0
        self._relay = _EventRelay(self)
        self._relay.ready.connect(self._on_events, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe: Any = None
        self._waiting_watches: set[tuple[int, int]] = set()  # job watches waiting for their client to read
        self._idle_timer = QTimer(self)
        shortest = min(self.idle_timeout, self.line_timeout)
        self._idle_timer.setInterval(int(min(max(shortest / 4, 0.05), 1.0) * 1000))
        self._idle_timer.timeout.connect(self._close_idle)

    # -- life cycle ------------------------------------------------------------------
    def start(self) -> None:
        prepare_socket_dir(self.address)
        self._listen()
        self._unsubscribe = self.dispatcher.queue.bus.subscribe(self._relay.publish)
        self._idle_timer.start()
        log.info("listening on %s", self.address)

    def _listen(self) -> None:
        """Listen; a leftover file from a crash is removed only after nobody answers on it.

        The check must come first: with UserAccessOption, Qt binds in a private temp
        folder and renames the socket into place, which would silently replace even a
        live server's socket.
        """
        if os.path.lexists(self.address):
            if someone_listens(self.address):
                raise AlreadyRunningError(
                    f"another Acacia is already running on this data dir (it answers on {self.address}); "
                    "use `acacia` commands to talk to it, or stop it first"
                )
            log.warning("removing a stale socket file left by a previous run: %s", self.address)
            QLocalServer.removeServer(self.address)
        if not self._server.listen(self.address):
            raise ServerError(f"cannot listen on {self.address}: {self._server.errorString()}")
        self._listen_fd = int(self._server.socketDescriptor())
        if hasattr(os, "register_at_fork") and not self._fork_guard:
            self._fork_guard = True
            os.register_at_fork(after_in_child=self._close_in_forked_child)

    def _close_in_forked_child(self) -> None:
        """A thread-isolated handler that forks a helper must not take our listening socket
        along: after the app died, the helper would answer in its place and a restart would
        be refused as 'already running'. Only the child's copy is closed."""
        fd = self._listen_fd
        if fd is not None and fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        """Stop listening (the socket file goes) and close every connection."""
        self._listen_fd = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._idle_timer.stop()
        for conn in list(self._connections.values()):
            self._drop(conn, abort=True)
        for sock in list(self._leaving.values()):
            sock.abort()
        self._leaving.clear()
        if self._server.isListening():
            self._server.close()

    @property
    def client_count(self) -> int:
        return len(self._connections)

    # -- connections -----------------------------------------------------------------
    def _on_accepted(self, fd: int) -> None:
        sock = LocalStream(fd, self)
        creds = peer_credentials(fd)
        peer = f"pid {creds.pid} uid {creds.uid}" if creds else "a local peer"
        if not peer_allowed(creds):
            log.warning("refused a connection from %s: only uid %d may use %s", peer, os.getuid(), self.address)
            self.client_refused.emit(peer)
            self._say_goodbye(sock, AccessDeniedError("only the user who runs Acacia may connect to its socket"))
            return
        reserved = len(self._connections) - len(self._reserved) >= self.max_clients
        if reserved and not self._make_room_in_reserve():
            log.warning("refused %s: already %d clients", peer, len(self._connections))
            self._say_goodbye(sock, ServerBusyError(f"too many clients ({self.max_clients}); try again shortly"))
            return
        self._next_id += 1
        conn = _Connection(self._next_id, sock, peer, reserved=reserved)
        if reserved:
            self._reserved.add(conn.id)
        self._connections[conn.id] = conn
        sock.ready_read.connect(partial(self._on_ready_read, conn.id))
        sock.closed.connect(partial(self._on_disconnected, conn.id))

    def _make_room_in_reserve(self) -> bool:
        """All normal slots are taken: is there room in the reserve? When it is full too, the
        oldest reserved connection that is stalled (nothing sent yet, or an unfinished line) is
        evicted, so a crowd of slow clients cannot keep `hello`, `stats` and `cancel` out."""
        if len(self._reserved) < RESERVED_CLIENTS:
            return True
        for conn_id in sorted(self._reserved):
            conn = self._connections.get(conn_id)
            if conn is not None and not conn.watches and (conn.requests == 0 or conn.line_started is not None):
                log.info("evicting %s from the reserved connections: it is stalled", conn.peer)
                self._drop(conn, abort=True)
                return True
        return False

    def _say_goodbye(self, sock: LocalStream, error: AcaciaError) -> None:
        """Answer once, then close after the answer is flushed (abort if it never is)."""
        sock.write(encode_message(error_reply(None, error)))
        self._let_go(sock, timeout=2.0)

    def _let_go(self, sock: LocalStream, timeout: float) -> None:
        """Close after what is queued is written; keep a reference until then."""
        if not sock.is_open:
            return
        self._next_id += 1
        key = self._next_id
        self._leaving[key] = sock
        sock.closed.connect(partial(self._leaving.pop, key, None))
        sock.close_when_flushed(timeout)

    def _on_disconnected(self, conn_id: int) -> None:
        conn = self._connections.get(conn_id)
        if conn is not None:
            self._drop(conn, abort=True)

    def _drop(self, conn: _Connection, *, abort: bool, reason: str = "") -> None:
        """Forget a connection; close it at once (`abort`) or after its replies are written."""
        if conn.closed:
            return
        conn.closed = True
        self._connections.pop(conn.id, None)
        self._reserved.discard(conn.id)
        conn.watches.clear()
        conn.buffer = bytearray()
        if reason:
            log.warning("dropped %s: %s", conn.peer, reason)
            self.client_dropped.emit(f"{conn.peer}: {reason}")
        if abort:
            conn.socket.abort()
        else:
            self._let_go(conn.socket, timeout=10.0)

    def _close_idle(self) -> None:
        """Every second or so: drop connections stalled mid-line past line_timeout (one log line
        for all of them), close reserved ones silent for line_timeout and others silent for
        idle_timeout (unless they watch)."""
        now = time.monotonic()
        limit, line_limit = now - self.idle_timeout, now - self.line_timeout
        stalled = []
        for conn in list(self._connections.values()):
            if conn.line_started is not None and not conn.resume_posted and conn.line_started < line_limit:
                stalled.append(conn.peer)
                self._send(conn, error_reply(None, ProtocolError(
                    f"a request line was not finished within {self.line_timeout:g} s; the connection is closed")))
                self._drop(conn, abort=False)
            elif not conn.watches and conn.last_activity < (line_limit if conn.reserved else limit):
                log.info("closing %s: silent for %g s", conn.peer, self.line_timeout if conn.reserved else self.idle_timeout)
                self._drop(conn, abort=False)
        if stalled:
            reason = f"a request line was not finished within {self.line_timeout:g} s"
            log.warning("dropped %d connection(s) (%s%s): %s", len(stalled), ", ".join(stalled[:3]),
                        ", …" if len(stalled) > 3 else "", reason)  # fmt: skip
            self.client_dropped.emit(f"{len(stalled)} client(s): {reason}")

    # -- requests --------------------------------------------------------------------
    def _on_ready_read(self, conn_id: int) -> None:
        conn = self._connections.get(conn_id)
        if conn is None:
            return
        data = conn.socket.read_all()
        if data:
            conn.last_activity = time.monotonic()
            if b"\n" in data:
                conn.line_started = None  # the line that was waiting is complete; what follows is a new one
            conn.buffer += data
        if not conn.resume_posted:
            self._handle_buffered(conn)
        self._note_unfinished_line(conn)

    def _note_unfinished_line(self, conn: _Connection) -> None:
        """Start (or keep) the line_timeout clock while an unfinished line waits; stop it when none does."""
        if conn.closed or not (conn.buffer or conn.discarding):
            conn.line_started = None
        elif conn.line_started is None:
            conn.line_started = time.monotonic()

    def _resume(self, conn_id: int) -> None:
        conn = self._connections.get(conn_id)
        if conn is not None:
            conn.resume_posted = False
            self._handle_buffered(conn)
            self._note_unfinished_line(conn)
            if not conn.resume_posted and not conn.closed:
                conn.socket.set_reading(True)

    def _handle_buffered(self, conn: _Connection) -> None:
        """Answer the complete lines waiting in a connection's buffer, for TURN_BUDGET at most;
        then let the event loop (the worker, the window, other clients) run before the rest."""
        buffer = conn.buffer
        deadline = time.monotonic() + TURN_BUDGET
        while not conn.closed:
            if time.monotonic() > deadline and b"\n" in buffer:
                conn.resume_posted = True
                conn.socket.set_reading(False)  # the kernel's buffer holds the client back meanwhile
                QTimer.singleShot(0, partial(self._resume, conn.id))
                return
            newline = buffer.find(b"\n")
            if newline < 0:
                if len(buffer) > self.max_line_bytes:
                    if not conn.discarding:
                        self._send(conn, error_reply(None, self._too_long()))
                    conn.discarding = True
                    buffer.clear()
                if conn.socket.at_eof:
                    self._end_of_input(conn)
                return
            line = bytes(buffer[:newline])
            del buffer[: newline + 1]
            if conn.discarding:  # the end of a line we already refused
                conn.discarding = False
                continue
            if len(line) > self.max_line_bytes:
                self._send(conn, error_reply(None, self._too_long()))
                continue
            line = line.rstrip(b"\r")
            if line.strip():
                self._handle_line(conn, line)

    def _end_of_input(self, conn: _Connection) -> None:
        """The client shut down its write side and every complete line is answered.

        A last line without its newline is answered like any other (the sender clearly
        meant it: `printf '{…}' | socat`). The connection closes once its replies are
        written, unless a watch still streams to it: then when the last watch ends.
        """
        line = bytes(conn.buffer).rstrip(b"\r")
        conn.buffer.clear()
        if conn.discarding:  # the rest of a line already refused as too long
            conn.discarding = False
        elif line.strip():
            self._handle_line(conn, line)
        self._close_if_done(conn)

    def _close_if_done(self, conn: _Connection) -> None:
        """Close a half-closed connection that has nothing left to answer or stream."""
        if conn.socket.at_eof and not conn.watches and not conn.buffer and not conn.resume_posted:
            self._drop(conn, abort=False)

    def _too_long(self) -> LineTooLongError:
        return LineTooLongError(f"request line longer than {self.max_line_bytes} bytes; it was skipped")

    def _handle_line(self, conn: _Connection, line: bytes) -> None:
        conn.requests += 1
        try:
            request = parse_request(line)
        except BadRequest as bad:
            self._send(conn, error_reply(bad.request_id, bad.error))
            return
        if conn.reserved and request.op not in RESERVED_OPS:
            self._send(conn, error_reply(request.id, ServerBusyError(
                f"too many clients ({self.max_clients}); until some leave, only "
                f"{', '.join(sorted(RESERVED_OPS))} are answered; try again shortly")))  # fmt: skip
            return
        if request.op == "watch":
            self._start_watch(conn, request.id, request.params)
        else:
            self._send(conn, self.dispatcher.handle(request))

    def _send(self, conn: _Connection, message: dict[str, Any]) -> None:
        if conn.closed:
            return
        sock = conn.socket
        if sock.bytes_to_write() > self.max_pending_output:
            sock.flush()
            if sock.bytes_to_write() > self.max_pending_output:
                self._drop(conn, abort=True, reason=f"it does not read its replies ({sock.bytes_to_write()} bytes unsent)")
                return
        sock.write(_encode_or_internal_error(message))

    # -- watch -----------------------------------------------------------------------
    def _start_watch(self, conn: _Connection, request_id: Any, params: dict[str, Any]) -> None:
        try:
            if len(conn.watches) >= MAX_WATCHES_PER_CONNECTION:
                raise ServerBusyError(f"at most {MAX_WATCHES_PER_CONNECTION} watches per connection")
            watch = self.dispatcher.open_watch(params)
        except AcaciaError as exc:
            self._send(conn, error_reply(request_id, exc))
            return
        except Exception:
            log.exception("watch failed")
            self._send(conn, error_reply(request_id, InternalError("watch failed inside the app; see its log")))
            return
        self._send(conn, ok_reply(request_id, watch.ack))
        self._next_id += 1
        conn.watches[self._next_id] = (request_id, watch)
        if watch.tail is not None:
            self._pump(conn, self._next_id)  # the replay: as much as the client takes now, the rest as it reads

    def _on_events(self) -> None:
        events = self._relay.drain()
        if not any(conn.watches for conn in self._connections.values()):
            return
        to_pump: dict[tuple[int, int], None] = {}  # job watches to bring up to date after this burst, in order
        for event in events:
            self._on_event(event, to_pump)
        for conn_id, key in to_pump:
            conn = self._connections.get(conn_id)
            if conn is not None:
                self._pump(conn, key)

    def _on_event(self, event: JobEvent, to_pump: dict[tuple[int, int], None]) -> None:
        data = event.to_dict()
        for conn in list(self._connections.values()):
            for key, (request_id, watch) in list(conn.watches.items()):
                if watch.tail is not None:
                    self._on_job_event(conn, key, watch, data, to_pump)
                    continue
                send, end = watch.accept(data)
                if send:
                    self._send(conn, event_message(request_id, data))
                if end and key in conn.watches:
                    del conn.watches[key]
                    reason = "the job was deleted" if data.get("kind") == EventKind.DELETED else "the job finished"
                    self._send(conn, end_message(request_id, self.dispatcher.watch_end(watch, reason)))
                    self._close_if_done(conn)  # a half-closed client waited only for this watch

    # -- job watches: replay, then what the store records next (ipc/watch.py, JobTail) --
    def _on_job_event(self, conn: _Connection, key: int, watch: Watch, data: dict[str, Any],
                      to_pump: dict[tuple[int, int], None]) -> None:  # fmt: skip
        """A bus event, for a job watch: a committed row (state, log) or another process's commit
        means "read the store again"; progress and cancel_requested wait in the tail until it has
        caught up; a deletion ends the watch."""
        assert watch.tail is not None
        kind = data.get("kind")
        if key not in conn.watches:
            return  # ended meanwhile (by an earlier event of this burst, or the connection closed)
        if kind == EventKind.EXTERNAL_CHANGE:
            to_pump[(conn.id, key)] = None
            return
        if data.get("job_id") != watch.job_id:
            return
        if kind == EventKind.DELETED:
            to_pump.pop((conn.id, key), None)
            self._send(conn, event_message(conn.watches[key][0], data))
            self._end_watch(conn, key, "the job was deleted")
            return
        if kind not in (EventKind.STATE, EventKind.ENQUEUED, EventKind.LOG):
            watch.tail.hold(data)
        to_pump[(conn.id, key)] = None

    def _pump(self, conn: _Connection, key: int) -> None:
        """Send a job watch what its tail has, while the client keeps up; end it at the job's end.

        Above WATCH_HIGH_WATER unsent bytes it waits (polling every WATCH_RETRY_MS) for the
        client to read, so a replay of a long log never piles up in memory or gets the
        client dropped as one that does not read."""
        entry = conn.watches.get(key)
        if entry is None or conn.closed:
            return
        request_id, watch = entry
        assert watch.tail is not None
        while True:
            if conn.socket.bytes_to_write() > WATCH_HIGH_WATER:
                conn.socket.flush()
                if conn.socket.bytes_to_write() > WATCH_HIGH_WATER:
                    if (conn.id, key) not in self._waiting_watches:
                        self._waiting_watches.add((conn.id, key))
                        QTimer.singleShot(WATCH_RETRY_MS, partial(self._pump_again, conn.id, key))
                    return
            try:
                events, status = watch.tail.next_batch()
            except Exception:
                log.exception("watch of job %s failed", watch.job_id)
                conn.watches.pop(key, None)
                self._send(conn, error_reply(request_id, InternalError("the watch failed inside the app; see its log")))
                self._close_if_done(conn)
                return
            for event in events:
                self._send(conn, event_message(request_id, event))
            if conn.closed or status == IDLE:
                return
            if status == END:
                finished = "the job had already finished" if watch.tail.finished_before_watch else "the job finished"
                self._end_watch(conn, key, finished)
                return

    def _pump_again(self, conn_id: int, key: int) -> None:
        self._waiting_watches.discard((conn_id, key))
        conn = self._connections.get(conn_id)
        if conn is not None:
            self._pump(conn, key)

    def _end_watch(self, conn: _Connection, key: int, reason: str) -> None:
        entry = conn.watches.pop(key, None)
        if entry is None:
            return
        request_id, watch = entry
        self._send(conn, end_message(request_id, self.dispatcher.watch_end(watch, reason)))
        self._close_if_done(conn)  # a half-closed client waited only for this watch


def _env_seconds(name: str, default: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        log.warning("ignoring %s=%r: not a number of seconds", name, text)
        return default
    return value if value > 0 else default


def _encode_or_internal_error(message: dict[str, Any]) -> bytes:
    """The message as one line; if it cannot be encoded (a value JSON cannot carry), an
    internal_error reply for the same id instead. Never raises: this runs inside Qt slots,
    and a request must get an answer so the next one on its connection is not held up."""
    try:
        return encode_message(message)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        log.error("cannot encode a reply (%s); answering internal_error instead", exc)
    request_id = message.get("id")
    if not valid_request_id(request_id):
        request_id = None
    return encode_message(error_reply(request_id, InternalError("the reply could not be encoded; see the app's log")))
