"""Client: talk to a running Acacia over its local socket. Standard library only, no Qt.

    from acacia_gui.client import Client

    with Client.for_data_dir() as client:
        job_id = client.enqueue("demo.sleep", {"seconds": 2})
        for event in client.watch(job=job_id):
            print(event["kind"], event.get("progress"))

Every op of the protocol is a method (OpsMixin; `watch` is Client's), named in the op
table (ops.py); `LocalClient` offers the same methods in-process over a Dispatcher,
which is how the CLI works when no app runs. Not thread-safe: use one Client per thread.
Unix only for now (Windows would need a named pipe; the Client says so instead of
failing obscurely).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..config import load_config
from ..core.errors import AcaciaError
from .address import UntrustedSocketError, check_server_peer, trusted_address
from .batch import enqueue_in_chunks
from .ops import OPS_BY_NAME
from .protocol import (
    PROTOCOL_VERSION,
    AccessDeniedError,
    ConnectionLostError,
    NoReplyError,
    NotRunningError,
    ProtocolError,
    ServerError,
    check_server_version,
    decode_json,
    encode_message,
    error_from_reply,
    request_message,
)

DEFAULT_TIMEOUT = 60.0
_READ_SIZE = 1 << 16


_KEEP: Any = object()  # edit(): the payload is left as it is


def _drop_none(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _with_create(params: dict[str, Any], create: bool) -> dict[str, Any]:
    if create:
        params["create"] = True
    return params


def raise_first_error(result: dict[str, Any]) -> None:
    """A per-id result (cancel_many, retry_many, delete_many) → raise its first id's error, if any."""
    errors = result.get("errors") or []
    if errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        raise error_from_reply(first.get("error"))


class OpsMixin:
    """The protocol's ops as methods over `call(op, params)`; each returns the reply's result."""

    def call(self, op: str, params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def hello(self) -> dict[str, Any]:
        return self.call("hello", {"version": PROTOCOL_VERSION, "client": "acacia_gui.client"})

    def enqueue(self, type: str, payload: Any = None, *, queue: str | None = None, priority: int | None = None,
                delay: float | None = None, max_attempts: int | None = None, timeout: float | None = None,
                cancel_grace: float | None = None, memory_limit: int | str | None = None,
                cpu_time_limit: float | None = None, nice: int | None = None, after: Iterable[int] | None = None,
                after_policy: str | None = None, unique_key: str | None = None, on_conflict: str | None = None,
                allow_unknown: bool = False) -> int:  # fmt: skip
        """Enqueue one job; returns its id. Raises InvalidJobError subclasses on bad input.

        The limits (None: the handler's) apply when its handler runs in a worker process:
        cancel_grace seconds before a cancelled run is killed, memory_limit (bytes or "512MB"),
        cpu_time_limit seconds of CPU, nice 0-19. `after`: job ids it runs after, under
        `after_policy` ("success", the default, or "finished"). `unique_key`: while a job
        that is not final holds it, `on_conflict` decides: "return" (its id, the default),
        "reject" (UniqueKeyTakenError) or "replace" (its payload, if it has not started)."""
        params = _drop_none({"type": type, "payload": payload, "queue": queue, "priority": priority, "delay": delay,
                             "max_attempts": max_attempts, "timeout": timeout, "cancel_grace": cancel_grace,
                             "memory_limit": memory_limit, "cpu_time_limit": cpu_time_limit, "nice": nice,
                             "after": list(after) if after is not None else None, "after_policy": after_policy,
                             "unique_key": unique_key, "on_conflict": on_conflict})  # fmt: skip
        if allow_unknown:
            params["allow_unknown"] = True
        return self.call("enqueue", params)["id"]

    def enqueue_many(self, jobs: list[dict[str, Any]], *, allow_unknown: bool = False) -> list[int]:
        """All or nothing, in one transaction; an error's `details["index"]` names the bad job.
        (Client overrides this: over the socket, a batch larger than one request goes in chunks.)"""
        params: dict[str, Any] = {"jobs": jobs}
        if allow_unknown:
            params["allow_unknown"] = True
        return self.call("enqueue", params)["ids"]

    def logs(self, job_id: int, *, after: int = 0, limit: int | None = None) -> dict[str, Any]:
        """A page of the job's log lines after line id `after`, oldest first:
        {"id", "state", "lines": [{"id", "at", "level", "message"}], "next", "more"};
        while `more`, ask again with `after=page["next"]`."""
        return self.call("logs", _drop_none({"id": job_id, "after": after, "limit": limit}))

    def get(self, job_id: int, *, events: bool = False, logs: int = 0) -> dict[str, Any]:
        params: dict[str, Any] = {"id": job_id}
        if events:
            params["events"] = True
        if logs:
            params["logs"] = logs
        return self.call("get", params)

    def list(self, *, state: str | list[str] | None = None, queue: str | list[str] | None = None,
             type: str | list[str] | None = None, search: str | None = None, order_by: str | None = None,
             descending: bool | None = None, limit: int | None = None, offset: int | None = None,
             stalled: bool | None = None) -> dict[str, Any]:  # fmt: skip
        """{"jobs": [...], "total": n} — every matching job unless `limit`; `stalled`: only stalled ones."""
        return self.call("list", _drop_none({"state": state, "queue": queue, "type": type, "search": search,
                                             "order_by": order_by, "descending": descending, "limit": limit,
                                             "offset": offset, "stalled": stalled or None}))  # fmt: skip

    def cancel(self, job_id: int) -> dict[str, Any]:
        """The job afterwards (`cancel_requested` when it was running); raises if it cannot be."""
        return self.call("cancel", {"id": job_id})

    def kill(self, job_id: int) -> dict[str, Any]:
        """A hard cancel: a running job's worker process is killed at once (`killed`: true); a job
        not started is just cancelled; a running thread handler is refused (invalid_state)."""
        return self.call("kill", {"id": job_id})

    def extend(self, job_id: int) -> dict[str, Any]:
        """Postpone a running job's stall detection by another stall_after, clearing its flag:
        {"id", "extended_by": seconds, "stalled"}."""
        return self.call("extend", {"id": job_id})

    def cancel_many(self, job_ids: Iterable[int]) -> dict[str, Any]:
        """Each job that can be cancelled is: {"ids": [...], "jobs": [...], "errors": [{"id", "error"}]}
        (docs/protocol.md, "Acting on several jobs"; `raise_first_error` turns errors into an exception)."""
        return self.call("cancel", {"ids": list(job_ids)})

    def retry(self, job_id: int, *, with_dependents: bool = False) -> dict[str, Any]:
        """Queue a job that ended badly again; `with_dependents`: also the jobs its end cancelled."""
        params: dict[str, Any] = {"id": job_id}
        if with_dependents:
            params["with_dependents"] = True
        return self.call("retry", params)

    def retry_many(self, job_ids: Iterable[int], *, with_dependents: bool = False) -> dict[str, Any]:
        """Like cancel_many: each job that can be retried is, the others are reported per id."""
        params: dict[str, Any] = {"ids": list(job_ids)}
        if with_dependents:
            params["with_dependents"] = True
        return self.call("retry", params)

    def edit(self, job_id: int, *, priority: int | None = None, queue: str | None = None, payload: Any = _KEEP,
             front: bool = False) -> dict[str, Any]:  # fmt: skip
        """Edit a queued or scheduled job (None / not given: unchanged); returns the job afterwards.
        `front`: move it ahead of the other waiting jobs of its queue. Raises InvalidTransitionError
        for a job that is running or over, InvalidJobError subclasses for bad values."""
        params = _drop_none({"id": job_id, "priority": priority, "queue": queue})
        if payload is not _KEEP:
            params["payload"] = payload
        if front:
            params["front"] = True
        return self.call("edit", params)

    def delete(self, job_ids: Iterable[int] | int, *, outputs: bool = False) -> int:
        """Delete one job or several; returns how many. Raises the first id's error if any
        could not be deleted (the others are deleted all the same; delete_many reports each).
        `outputs`: remove their output folders too."""
        extra = {"outputs": True} if outputs else {}
        if isinstance(job_ids, int):
            return self.call("delete", {"id": job_ids, **extra})["deleted"]
        result = self.call("delete", {"ids": list(job_ids), **extra})
        raise_first_error(result)
        return result["deleted"]

    def delete_many(self, job_ids: Iterable[int], *, outputs: bool = False) -> dict[str, Any]:
        """{"deleted": n, "ids": [...], "errors": [{"id", "error"}]}: every deletable job goes.
        With `outputs`, also "outputs_removed" (ids) and "output_errors" (per id)."""
        return self.call("delete", {"ids": list(job_ids), **({"outputs": True} if outputs else {})})

    def delete_finished(self, queue: str | None = None, *, outputs: bool = False, older_than: str | float | None = None,
                        state: list[str] | None = None) -> list[int]:  # fmt: skip
        """Every finished job (of `queue`); `older_than` ("7d" or seconds): only those finished
        longer ago; `state`: only those final states."""
        return self.call("delete", _drop_none({"finished": True, "queue": queue, "outputs": outputs or None,
                                               "older_than": older_than, "state": state}))["ids"]  # fmt: skip

    def pause(self, queue: str, *, create: bool = False) -> dict[str, Any]:
        """An unknown queue raises JobNotFoundError (a typo), unless `create` asks for a new one."""
        return self.call("pause", _with_create({"queue": queue}, create))

    def resume(self, queue: str, *, create: bool = False) -> dict[str, Any]:
        return self.call("resume", _with_create({"queue": queue}, create))

    def set_concurrency(self, queue: str, concurrency: int, *, create: bool = False) -> dict[str, Any]:
        return self.call("set_concurrency", _with_create({"queue": queue, "concurrency": concurrency}, create))

    def set_rate(self, queue: str, rate: str | None, *, create: bool = False) -> dict[str, Any]:
        """A queue's rate ("30/h", "3/2s"; None: none), over every instance; returns the queue."""
        return self.call("set_concurrency", _with_create({"queue": queue, "rate": rate}, create))

    def set_workers(self, workers: int) -> int:
        return self.call("set_concurrency", {"workers": workers})["workers"]

    def handlers(self) -> dict[str, Any]:
        return self.call("handlers", {})

    def stats(self) -> dict[str, Any]:
        return self.call("stats", {})

    def raise_window(self) -> dict[str, Any]:
        return self.call("raise_window", {})

    # -- recurring schedules (protocol 1.5); each returns the schedule as Schedule.to_dict() ---
    def schedule_add(self, name: str, type: str, payload: Any = None, *, every: float | str | None = None,
                     cron: str | None = None, catch_up: str = "once", max_backlog: int = 100,
                     queue: str | None = None, priority: int = 0, timezone: str | None = None,
                     paused: bool = False, allow_unknown: bool = False) -> dict[str, Any]:  # fmt: skip
        """A job of `type` every `every` seconds (or "10m") or on a 5-field `cron` line (in
        `timezone`, default the machine's), exactly one of the two. `catch_up` says what the
        slots missed while the app was off become: "once" (one job), "all" (one each, the last
        `max_backlog`) or "skip". A taken name or a bad field raises InvalidJobError subclasses,
        and a type no loaded handler has UnknownJobTypeError, unless `allow_unknown`."""
        params = _drop_none({"name": name, "type": type, "payload": payload, "every": every, "cron": cron,
                             "catch_up": catch_up, "max_backlog": max_backlog, "queue": queue, "priority": priority,
                             "timezone": timezone})  # fmt: skip
        if paused:
            params["paused"] = True
        if allow_unknown:
            params["allow_unknown"] = True
        return self.call("schedule_add", params)

    def schedule_edit(self, name: str, *, allow_unknown: bool = False, **changes: Any) -> dict[str, Any]:
        """Change only the fields given (type, payload, every, cron, timezone, catch_up, max_backlog,
        queue, priority); `every` replaces a cron rule and `cron` an every rule. None is sent as
        null: for timezone and queue that is the default (the machine's zone, the handler's queue)."""
        params = {"name": name, **changes}
        if allow_unknown:
            params["allow_unknown"] = True
        return self.call("schedule_edit", params)

    def schedule_list(self) -> list[dict[str, Any]]:
        return self.call("schedule_list", {})["schedules"]

    def schedule_get(self, name: str) -> dict[str, Any]:
        """Raises the not-found error for an unknown name."""
        return self.call("schedule_get", {"name": name})

    def schedule_remove(self, name: str) -> None:
        """The schedule goes; the jobs it enqueued stay."""
        self.call("schedule_remove", {"name": name})

    def schedule_pause(self, name: str) -> dict[str, Any]:
        return self.call("schedule_pause", {"name": name})

    def schedule_resume(self, name: str) -> dict[str, Any]:
        """Enqueues again from the next slot after now; the paused time is not caught up."""
        return self.call("schedule_resume", {"name": name})

    def schedule_run_now(self, name: str) -> int:
        """Enqueue one job of the schedule now; returns its id (the next slot is unchanged)."""
        return self.call("schedule_run_now", {"name": name})["job_id"]


class Connection:
    """One socket and its read buffer: send a message, read the next message."""

    def __init__(self, address: str, data_dir: Any, connect_timeout: float) -> None:
        if not hasattr(socket, "AF_UNIX"):
            raise ServerError("the Acacia client needs Unix domain sockets; Windows is not supported yet")
        self.address = address
        self._buffer = bytearray()
        try:  # the folder first: an untrusted one is refused before we even connect
            target = trusted_address(address)
        except OSError as exc:  # no folder: nobody runs (or we cannot even look)
            raise NotRunningError(_not_running(address, data_dir, exc)) from None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(connect_timeout)
        try:
            self.sock.connect(target)
            check_server_peer(self.sock, address)  # before any byte is sent
        except UntrustedSocketError:
            self.sock.close()
            raise
        except (FileNotFoundError, ConnectionRefusedError, TimeoutError) as exc:
            self.sock.close()
            raise NotRunningError(_not_running(address, data_dir, exc)) from None
        except PermissionError:
            self.sock.close()
            raise AccessDeniedError(
                f"permission denied on {address}: the socket belongs to another user; "
                "run the command as the user who started Acacia"
            ) from None
        except OSError as exc:
            self.sock.close()
            raise NotRunningError(_not_running(address, data_dir, exc)) from None

    def alive(self) -> bool:
        """False when the app closed this connection (it drops idle ones): peek without blocking."""
        if self._buffer:
            return True
        self.sock.setblocking(False)  # with a timeout set, recv would first wait that long for data
        try:
            return self.sock.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def send(self, message: dict[str, Any], timeout: float | None) -> None:
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(encode_message(message))
        except TimeoutError:
            raise NoReplyError(f"the app at {self.address} stopped reading our request") from None
        except OSError as exc:
            raise ConnectionLostError(f"lost the connection to the app at {self.address}: {exc}") from None

    def read(self, timeout: float | None) -> dict[str, Any]:
        """The next message; raises NoReplyError on timeout (the buffer keeps partial data)."""
        self.sock.settimeout(timeout)
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                message = decode_json(line)
                if not isinstance(message, dict):
                    raise ProtocolError(f"the app sent something that is not a message: {line[:80]!r}")
                return message
            try:
                chunk = self.sock.recv(_READ_SIZE)
            except TimeoutError:
                raise NoReplyError(f"the app at {self.address} did not answer within {timeout:g} s") from None
            except OSError as exc:
                raise ConnectionLostError(f"lost the connection to the app at {self.address}: {exc}") from None
            if not chunk:
                raise ConnectionLostError(
                    f"the app at {self.address} closed the connection (did it stop? see its log)"
                )
            self._buffer += chunk

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _not_running(address: str, data_dir: Any, exc: BaseException) -> str:
    where = f"for data dir {data_dir}" if data_dir is not None else f"at {address}"
    detail = "" if isinstance(exc, FileNotFoundError | ConnectionRefusedError) else f" ({exc.strerror or exc})"
    return f"No Acacia is running {where}. Start it with `acacia` or `acacia serve`.{detail}"


class Client(OpsMixin):
    """A connection to the app at `address`; connects (and says hello) on first use."""

    def __init__(self, address: str, *, data_dir: Any = None, timeout: float | None = DEFAULT_TIMEOUT,
                 connect_timeout: float = 5.0) -> None:  # fmt: skip
        self.address = address
        self.data_dir = data_dir
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.server_info: dict[str, Any] | None = None
        self._conn: Connection | None = None
        self._next_id = 0

    @classmethod
    def for_data_dir(cls, data_dir: str | os.PathLike[str] | None = None, **options: Any) -> Client:
        """The client of the app serving `data_dir` (default: $ACACIA_DATA_DIR or the platform's)."""
        config = load_config(data_dir)
        return cls(config.socket_address, data_dir=config.data_dir, **options)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> dict[str, Any]:
        """Open the socket and exchange versions; returns the app's hello."""
        self.close()
        self._conn = Connection(self.address, self.data_dir, self.connect_timeout)
        try:
            info = self._request("hello", {"version": PROTOCOL_VERSION, "client": "acacia_gui.client"})
            check_server_version(info.get("protocol") if isinstance(info, dict) else None)
        except BaseException:
            self.close()
            raise
        self.server_info = info
        return info

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def call(self, op: str, params: dict[str, Any] | None = None) -> Any:
        """Send one request and return its result; raises the server's error as an AcaciaError."""
        if op == "hello" and self._conn is None:
            return self.connect()
        if self._conn is None or not self._conn.alive():
            self.connect()
        return self._request(op, params or {})

    def _request(self, op: str, params: dict[str, Any]) -> Any:
        assert self._conn is not None
        self._next_id += 1
        request_id = self._next_id
        try:
            self._conn.send(request_message(request_id, op, params), self.timeout)
        except ConnectionLostError:
            self._raise_parting_words()
            raise
        while True:
            message = self._conn.read(self.timeout)
            if message.get("id") != request_id and message.get("id") is not None:
                continue  # a stray stream message; not ours
            if message.get("ok") is True:
                return message.get("result")
            if message.get("ok") is False:
                raise error_from_reply(message.get("error"))
            raise ProtocolError(f"the app sent a reply without 'ok': {str(message)[:200]}")

    def enqueue_many(self, jobs: list[dict[str, Any]], *, allow_unknown: bool = False) -> list[int]:
        """A batch of any size; returns the ids in order (ipc/batch.py). One that fits in one
        request is one transaction, all or nothing. A larger one is checked whole first (a bad
        job fails it before anything is written), then written in chunks, each one transaction:
        a failure part-way raises with details "enqueued" (the ids written) and "index"."""
        base: dict[str, Any] = {"allow_unknown": True} if allow_unknown else {}
        limit = (self.server_info or {}).get("max_line_bytes")
        return enqueue_in_chunks(lambda params: self.call("enqueue", params), list(jobs), base,
                                 limit if isinstance(limit, int) and not isinstance(limit, bool) else None)  # fmt: skip

    def _raise_parting_words(self) -> None:
        """The app may have answered and closed before our request went out (e.g. 'forbidden')."""
        assert self._conn is not None
        try:
            message = self._conn.read(0.5)
        except AcaciaError:
            return
        if message.get("ok") is False:
            raise error_from_reply(message.get("error"))

    def watch(self, *, job: int | None = None, queue: str | None = None, kinds: list[str] | None = None,
              idle: float | None = None, since: int | str | None = None,
              since_log: int | None = None) -> WatchStream:  # fmt: skip
        """Stream events on a connection of its own (see WatchStream).

        A job watch first replays what the job's history holds after `since` (default
        "start": all of it; "now": nothing; or the `id` of the last state event you saw)
        and its log lines after `since_log` (the last `log_id` you saw), then follows it
        live until it ends: no event twice, none missed (docs/protocol.md, "Replay
        (`since`)"). A finished job's watch replays its history and ends."""
        params = _drop_none({"job": job, "queue": queue, "kinds": kinds, "since": since, "since_log": since_log})
        stream_client = Client(self.address, data_dir=self.data_dir, timeout=self.timeout,
                               connect_timeout=self.connect_timeout)  # fmt: skip
        stream_client.connect()
        try:
            ack = stream_client._request("watch", params)
        except BaseException:  # the watch was refused (e.g. not_found): its connection must not leak
            stream_client.close()
            raise
        return WatchStream(stream_client, ack, idle)


class WatchStream:
    """Iterate to get event dicts (or None every `idle` seconds of silence, to redraw).

    Ends when the watched job is final or deleted (`end` then holds the reason and the
    job), or when the app goes away (ConnectionLostError). `ack` is the watch's reply:
    for a job watch it holds the job as it was when the watch started.
    """

    def __init__(self, client: Client, ack: dict[str, Any], idle: float | None) -> None:
        """`client` has just sent the watch and read its reply, `ack`."""
        self._client = client
        self._idle = idle
        self.end: dict[str, Any] | None = None
        self.ack = ack
        self._request_id = client._next_id

    def __iter__(self) -> Iterator[dict[str, Any] | None]:
        conn = self._client._conn
        try:
            while self.end is None and conn is not None:
                try:
                    message = conn.read(self._idle)
                except NoReplyError:
                    if self._idle is not None:
                        yield None
                        continue
                    raise
                if message.get("id") != self._request_id:
                    continue
                if "event" in message:
                    yield message["event"]
                elif "end" in message:
                    self.end = message["end"] if isinstance(message["end"], dict) else {}
                elif message.get("ok") is False:
                    raise error_from_reply(message.get("error"))
        finally:
            if self.end is not None:
                self.close()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WatchStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalClient(OpsMixin):
    """The same methods, answered in-process by a Dispatcher (the CLI's no-app mode)."""

    def __init__(self, dispatcher: Any, on_close: Callable[[], None] | None = None) -> None:
        self.dispatcher = dispatcher
        self._on_close = on_close

    def call(self, op: str, params: dict[str, Any] | None = None) -> Any:
        spec = OPS_BY_NAME.get(op)
        if spec is not None and spec.needs_app:
            raise NotRunningError(f"{op} needs a running app. Start it with `acacia` or `acacia serve`.")
        return self.dispatcher.call(op, params or {})

    def watch(self, **_: Any) -> WatchStream:
        raise NotRunningError("watching needs a running app. Start it with `acacia` or `acacia serve`.")

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()
            self._on_close = None


def probe(address: str, timeout: float = 1.0) -> dict[str, Any] | None:
    """Is an app serving `address`? Its hello if one answers, else None.

    Anything that accepts the connection counts as running (a hung or incompatible app
    still owns the data dir): its answer is then {"error": {...}} instead of a hello.
    A connection dropped before any answer is asked again for up to a second: that is a
    listener going away (the socket of an app killed a moment ago can live on for a few
    milliseconds in a child it was starting, until that child's exec closes it).
    An untrusted socket (another user's folder or server, see address.py) is not "running":
    it raises UntrustedSocketError, naming the path and the fix.
    """
    deadline = time.monotonic() + max(timeout, 1.0)
    while True:
        answer = _probe_once(address, timeout)
        lost = answer is not None and (answer.get("error") or {}).get("code") == ConnectionLostError.code
        if not lost or time.monotonic() >= deadline:
            return answer
        time.sleep(0.05)


def _probe_once(address: str, timeout: float) -> dict[str, Any] | None:
    try:
        conn = Connection(address, None, timeout)
    except UntrustedSocketError:
        raise
    except AcaciaError:
        return None
    try:
        conn.send(request_message(0, "hello", {"version": PROTOCOL_VERSION, "client": "probe"}), timeout)
        message = conn.read(timeout)
    except AcaciaError as exc:
        return {"error": {"code": exc.code, "message": str(exc)}}
    finally:
        conn.close()
    if message.get("ok") is True and isinstance(message.get("result"), dict):
        return message["result"]
    error = message.get("error")
    return {"error": error if isinstance(error, dict) else {"code": "error", "message": str(message)[:200]}}
