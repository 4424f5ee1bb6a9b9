"""LocalStream: one accepted connection of the socket server, on a plain non-blocking socket.

Why not QLocalSocket: it closes its descriptor as soon as it reads end-of-file, so a
client that sends its requests and then shuts down its write side (`printf … | socat`,
`nc -U`, many libraries) would lose every reply it is waiting for. A LocalStream
reports end-of-file (`at_eof`) and keeps its write side open until its owner closes it,
after the last reply is written (`close_when_flushed`).

Readiness comes from QSocketNotifiers, so everything runs on the thread that created
the stream (the server's); nothing blocks. Writes are buffered and sent when the socket
is writable (several replies in one system call), like QLocalSocket's. A stream deletes
itself (deleteLater) once closed; `closed` is emitted exactly once.
"""

from __future__ import annotations

import logging
import socket

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal

log = logging.getLogger(__name__)

READ_CHUNK = 1 << 16
MAX_READ_PER_WAKE = 1 << 20  # bytes read on one wake-up, so one client cannot hog the event loop
DEFAULT_CLOSE_TIMEOUT = 10.0  # seconds a closing stream waits for its peer to read any of what is left


class LocalStream(QObject):
    """A connected stream socket, owned by the server's thread. Takes over `fd`."""

    ready_read = Signal()  # data arrived (`read_all()`), or the peer shut down its side (`at_eof`)
    closed = Signal()  # the connection is gone: closed by us, reset by the peer, or a write failed

    def __init__(self, fd: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._sock = socket.socket(fileno=fd)
        self._sock.setblocking(False)
        self._inbox = bytearray()
        self._outbox = bytearray()
        self.at_eof = False  # the peer will send nothing more (it may still read)
        self.is_open = True
        self._closing = False
        self._reading = True
        self._sent_since_check = False  # while closing: did the peer take anything since the last check?
        self._close_timer: QTimer | None = None
        self._read_notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
        self._read_notifier.activated.connect(self._on_readable)
        self._write_notifier = QSocketNotifier(fd, QSocketNotifier.Type.Write, self)
        self._write_notifier.setEnabled(False)
        self._write_notifier.activated.connect(self._on_writable)

    # -- reading -------------------------------------------------------------------------
    def read_all(self) -> bytes:
        """Everything received since the last call."""
        data = bytes(self._inbox)
        self._inbox.clear()
        return data

    def set_reading(self, reading: bool) -> None:
        """Pause reading (the kernel's buffer then holds the peer back), or take it up again."""
        self._reading = reading
        self._read_notifier.setEnabled(reading and self.is_open and not self.at_eof and not self._closing)

    def _on_readable(self, *_: object) -> None:
        if not self.is_open or not self._reading:
            return
        got = 0
        while got < MAX_READ_PER_WAKE:
            try:
                chunk = self._sock.recv(READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # reset by the peer
                log.debug("read failed: %s", exc)
                self.abort()
                return
            if not chunk:
                self.at_eof = True
                self._read_notifier.setEnabled(False)
                break
            self._inbox += chunk
            got += len(chunk)
        if self._inbox or self.at_eof:
            self.ready_read.emit()

    # -- writing -------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Queue `data`; it goes out when the socket is writable (nothing after close)."""
        if not self.is_open or not data:
            return
        self._outbox += data
        self._write_notifier.setEnabled(True)

    def bytes_to_write(self) -> int:
        return len(self._outbox)

    def flush(self) -> None:
        """Send what the socket takes right now, without waiting."""
        while self._outbox and self.is_open:
            try:
                sent = self._sock.send(self._outbox)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # the peer is gone (EPIPE, ECONNRESET)
                log.debug("write failed: %s", exc)
                self._outbox.clear()
                self.abort()
                return
            del self._outbox[:sent]
            self._sent_since_check = True

    def _on_writable(self, *_: object) -> None:
        self.flush()
        if not self.is_open:
            return
        if not self._outbox:
            self._write_notifier.setEnabled(False)
            if self._closing:
                self._finish()

    # -- closing -------------------------------------------------------------------------
    def close_when_flushed(self, timeout: float = DEFAULT_CLOSE_TIMEOUT) -> None:
        """Stop reading, send what is queued, then close; abort if the peer reads nothing
        for `timeout` seconds (a large reply to a slow reader still gets through)."""
        if not self.is_open or self._closing:
            return
        self._closing = True
        self._read_notifier.setEnabled(False)
        self.flush()
        if not self.is_open:
            return
        if not self._outbox:
            self._finish()
            return
        self._write_notifier.setEnabled(True)
        self._sent_since_check = False
        self._close_timer = QTimer(self)
        self._close_timer.setInterval(int(timeout * 1000))
        self._close_timer.timeout.connect(self._check_progress)
        self._close_timer.start()

    def _check_progress(self) -> None:
        if not self._sent_since_check:
            log.debug("closing a connection whose peer stopped reading (%d bytes unsent)", len(self._outbox))
            self.abort()
        self._sent_since_check = False

    def abort(self) -> None:
        """Close now; whatever is still queued is dropped."""
        self._outbox.clear()
        self._finish()

    def _finish(self) -> None:
        if not self.is_open:
            return
        self.is_open = False
        self._read_notifier.setEnabled(False)
        self._write_notifier.setEnabled(False)
        if self._close_timer is not None:
            self._close_timer.stop()
        try:
            # shutdown, not only close: a process forked meanwhile may hold a copy of the
            # descriptor, and the peer must still see the end of the connection.
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self.closed.emit()
        self.deleteLater()
