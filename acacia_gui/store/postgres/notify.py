"""Wake-ups across instances: PostgreSQL LISTEN/NOTIFY.

Sending is the schema's: triggers (migrations/0002_notify.sql) NOTIFY channel `acacia_wake`
inside every transaction that makes work claimable (an enqueue, a retry, a released
dependency, a promoted delay, a recovered job, a resumed queue, a concurrency or rate change),
with the queue's name as payload; the server delivers it when the transaction commits.

Receiving is `WakeListener`'s: a daemon thread with a connection of its own (not from the
store's pool: a LISTENing session must stay open and idle), which calls `wake()` when a
notification arrives. `wake` must be thread-safe and cheap (the engine's Scheduler.wake posts
one pump to its loop, however many times it is called before the pump runs). A burst of
notifications read together costs one call. The listener's own instance's commits wake it
too: one redundant pump, cheaper than telling its sessions apart.

A lost connection (the server restarted, pg_terminate_backend, a network cut caught by TCP
keepalives: ~25 s with the defaults below when the URL sets none) is opened again with
backoff (50 ms doubling to 5 s); once it LISTENs again the listener wakes once, because
notifications sent while nobody listened are lost and a rescan is due. It also wakes once
after its first LISTEN, for what was committed before it listened.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from psycopg import conninfo, sql

from .db import CONNECT_TIMEOUT, safe_target, without_secret

log = logging.getLogger(__name__)

CHANNEL = "acacia_wake"  # the triggers' channel (migrations/0002_notify.sql)
RECONNECT_FIRST = 0.05  # seconds before the first reconnect attempt; doubled after each failure...
RECONNECT_MAX = 5.0  # ...up to this
TICK = 0.25  # how often a waiting listener looks at its stop flag (stop() returns within about this)
# A silent network cut (no FIN, no RST) is noticed by TCP keepalives: used unless the URL sets its own.
KEEPALIVES = {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5", "keepalives_count": "3"}


class WakeListener:
    """LISTEN on `channel` of the database at `url` on a thread of its own; call `wake()` when
    something arrives, and once after each (re)connection. start() once, stop() to end."""

    def __init__(self, url: str, wake: Callable[[], None], *, channel: str = CHANNEL,
                 connect_timeout: float = CONNECT_TIMEOUT,
                 on_payloads: Callable[[set[str]], None] | None = None) -> None:  # fmt: skip
        """`on_payloads` (optional, called on the listener's thread): the distinct payloads of
        each burst, for a caller that wants more than a wake (say, a NOTIFY that an instance left)."""
        self.url = url
        self.target = safe_target(url)
        self.channel = channel
        self._wake = wake
        self._on_payloads = on_payloads
        self._connect_timeout = connect_timeout
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while LISTENing (tests wait for it)
        self.backend_pid: int | None = None  # the server process of the current connection
        self.connections = 0  # how many times it connected and LISTENed
        self.notifications = 0  # received
        self.wakes = 0  # calls of wake()

    # -- control ------------------------------------------------------------------------
    def start(self) -> WakeListener:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="acacia-listen", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop listening and close the connection (returns within about TICK)."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait_listening(self, timeout: float) -> bool:
        return self.listening.wait(timeout)

    # -- the thread ---------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        params = conninfo.conninfo_to_dict(self.url)
        extra = {key: value for key, value in KEEPALIVES.items() if key not in params}
        conn = psycopg.connect(self.url, autocommit=True, application_name="acacia-listen",
                               connect_timeout=max(1, round(self._connect_timeout)), **extra)  # fmt: skip
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except BaseException:
            conn.close()
            raise
        return conn

    def _run(self) -> None:
        delay = RECONNECT_FIRST
        lost = False  # the last connection was lost: say so once, and when it is back
        while not self._stopping.is_set():
            try:
                conn = self._connect()
            except psycopg.Error as exc:
                if not lost:
                    log.warning("wake-ups: cannot listen on %s (%s); retrying", self.target, self._why(exc))
                    lost = True
                self._stopping.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX)
                continue
            try:
                self.backend_pid = conn.info.backend_pid
                self.connections += 1
                if lost:
                    log.info("wake-ups: listening on %s again", self.target)
                lost = False
                delay = RECONNECT_FIRST
                self.listening.set()
                self._call_wake()  # whatever was committed while nobody listened: a rescan
                self._listen(conn)
            except psycopg.Error as exc:
                if not self._stopping.is_set():
                    log.warning("wake-ups: lost the connection to %s (%s); reconnecting", self.target, self._why(exc))
                    lost = True
            finally:
                self.listening.clear()
                self.backend_pid = None
                conn.close()

    def _listen(self, conn: psycopg.Connection) -> None:
        """Wait for notifications until stopped; raises psycopg.Error when the connection breaks."""
        while not self._stopping.is_set():
            burst = list(conn.notifies(timeout=TICK, stop_after=1))
            if not burst:
                continue
            burst += conn.notifies(timeout=0)  # the rest of the burst, already here
            self.notifications += len(burst)
            self._call_wake()
            if self._on_payloads is not None:
                try:
                    self._on_payloads({n.payload for n in burst})
                except Exception:
                    log.exception("wake-ups: the payload callback failed")

    def _call_wake(self) -> None:
        self.wakes += 1
        try:
            self._wake()
        except Exception:  # a broken callback must not end the listener
            log.exception("wake-ups: the wake callback failed")

    def _why(self, exc: BaseException) -> str:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return without_secret(text, self.url)
