"""The example plugins, loaded by the real loader from a first-run plugin folder and run
with real Contexts, files and subprocesses; plus enqueueing through JobQueue with schema checks."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.errors import Cancelled, DeadlineExceeded, InvalidPayloadError
from acacia_gui.core.job import Job, JobState
from acacia_gui.core.logcapture import JobLogCapture
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import RegisteredHandler, Registry
from acacia_gui.core.runner import run_job
from acacia_gui.plugins.loader import LoadReport, ensure_plugin_dir, examples_dir, load_plugins
from acacia_gui.plugins.schema import validate_payload
from acacia_gui.store.sqlite import SqliteJobStore
from tests.conftest import wait_until

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> LoadReport:
    folder = tmp_path_factory.mktemp("first-run") / "plugins"
    assert ensure_plugin_dir(folder, examples_dir())
    report = load_plugins(folder, entry_points=False)
    assert report.problems == []
    return report


class Recorder:
    """Collects a job's progress reports (the real Job.report_progress path)."""

    def __init__(self, job: Job) -> None:
        self.updates: list[tuple[float | None, str]] = []
        job.attach_reporter(lambda _job, fraction, message: self.updates.append((fraction, message)))


class Outcome:
    """Runs a handler on a thread, as the worker does, and keeps what it returned or raised."""

    def __init__(self, handler: RegisteredHandler, ctx: Context, job: Job) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(handler, ctx, job), daemon=True)
        self.thread.start()

    def _run(self, handler: RegisteredHandler, ctx: Context, job: Job) -> None:
        try:
            self.value = handler.handle(ctx, job)
        except BaseException as exc:
            self.error = exc

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the handler did not return within {timeout} s"


class LoggedRun(Outcome):
    """An Outcome whose thread is bound to a real JobLogCapture: `logging` lines become `lines`."""

    def __init__(self, handler: RegisteredHandler, ctx: Context, job: Job) -> None:
        self.lines: list[str] = []
        self.capture = JobLogCapture(lambda _id, _at, _level, message: self.lines.append(message))
        self.root_level = logging.getLogger().level
        self.capture.install()
        job.id = job.id or 7
        super().__init__(handler, ctx, job)

    def _run(self, handler: RegisteredHandler, ctx: Context, job: Job) -> None:
        self.capture.bind(job.id)
        try:
            super()._run(handler, ctx, job)
        finally:
            self.capture.unbind()

    def join(self, timeout: float = 10) -> None:
        try:
            super().join(timeout)
        finally:
            self.capture.uninstall()
            logging.getLogger().setLevel(self.root_level)


# -- demo.sleep ---------------------------------------------------------------------------------

def test_sleep_reports_progress_and_returns(examples: LoadReport) -> None:
    job = Job("demo.sleep", {"seconds": 0.2})
    recorder = Recorder(job)
    started = time.monotonic()
    assert examples.handlers["demo.sleep"].handle(Context.background(), job) == {"slept": 0.2}
    assert 0.2 <= time.monotonic() - started < 2
    fractions = [f for f, _ in recorder.updates]
    assert len(fractions) >= 2 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert recorder.updates[0][1].endswith("s left") and recorder.updates[-1][1] == "slept 0.2 s"


def test_sleep_stops_promptly_when_cancelled_from_another_thread(examples: LoadReport) -> None:
    ctx = Context.background().with_cancel()
    job = Job("demo.sleep", {"seconds": 30})
    recorder = Recorder(job)
    outcome = Outcome(examples.handlers["demo.sleep"], ctx, job)
    wait_until(lambda: recorder.updates, message="first progress report")
    cancelled_at = time.monotonic()
    ctx.cancel()
    outcome.join(2)
    assert isinstance(outcome.error, Cancelled) and time.monotonic() - cancelled_at < 1


def test_sleep_with_a_timeout_raises_deadline_exceeded(examples: LoadReport) -> None:
    with pytest.raises(DeadlineExceeded):
        examples.handlers["demo.sleep"].handle(Context.background().with_timeout(0.2), Job("demo.sleep", {"seconds": 30}))


def test_sleep_fails_on_request(examples: LoadReport) -> None:
    with pytest.raises(RuntimeError, match=r'failed on purpose after 0 s \(the payload asked for it with "fail": true\)'):
        examples.handlers["demo.sleep"].handle(Context.background(), Job("demo.sleep", {"seconds": 0, "fail": True}))


# -- file.hash ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hash") / "data.bin"
    path.write_bytes(os.urandom(3 * MIB + 12345))
    return path


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "md5", "blake2b"])
def test_hash_matches_hashlib(examples: LoadReport, data_file: Path, algorithm: str) -> None:
    job = Job("file.hash", {"path": str(data_file), "algorithm": algorithm})
    recorder = Recorder(job)
    result = examples.handlers["file.hash"].handle(Context.background(), job)
    expected = hashlib.new(algorithm, data_file.read_bytes()).hexdigest()
    assert result == {"path": str(data_file), "algorithm": algorithm, "digest": expected, "bytes": 3 * MIB + 12345}
    (checksum,) = job.output_sink.artifacts  # outside the app: kept on the job (core/outputs.py LocalOutputs)
    assert checksum["name"] == f"{data_file.name}.{algorithm}" and checksum["kind"] == algorithm
    assert Path(checksum["path"]).read_text() == f"{expected}  {data_file.name}\n"
    assert [m for _, m in recorder.updates] == ["0.0 of 3.0 MiB", "1.0 of 3.0 MiB", "2.0 of 3.0 MiB",
                                                "3.0 of 3.0 MiB", "3.0 of 3.0 MiB"]
    assert recorder.updates[-1][0] == 1.0


def test_hash_defaults_to_sha256_and_handles_an_empty_file(examples: LoadReport, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    result = examples.handlers["file.hash"].handle(Context.background(), Job("file.hash", {"path": str(empty)}))
    assert result["digest"] == hashlib.sha256(b"").hexdigest() and result["bytes"] == 0


def test_hash_of_a_missing_file_fails_clearly(examples: LoadReport, tmp_path: Path) -> None:
    job = Job("file.hash", {"path": str(tmp_path / "nope.iso")})
    job.id, job.attempts, job.max_attempts = 1, 1, 1
    completion = run_job(Context.background(), job, examples.handlers["file.hash"])
    assert completion.state is JobState.FAILED
    assert completion.error == f"FileNotFoundError: [Errno 2] No such file or directory: '{tmp_path / 'nope.iso'}'"


def test_hash_stops_between_chunks_when_cancelled(examples: LoadReport, data_file: Path) -> None:
    ctx = Context.background().with_cancel()
    job = Job("file.hash", {"path": str(data_file)})
    job.attach_reporter(lambda _job, fraction, _message: ctx.cancel() if fraction and fraction > 0.3 else None)
    with pytest.raises(Cancelled):
        examples.handlers["file.hash"].handle(ctx, job)
    assert job.progress is not None and job.progress < 0.7


# -- shell.run ----------------------------------------------------------------------------------

def shell(examples: LoadReport, payload: dict, ctx: Context | None = None) -> LoggedRun:
    return LoggedRun(examples.handlers["shell.run"], ctx or Context.background(), Job("shell.run", payload))


def test_shell_output_lines_become_the_job_log(examples: LoadReport) -> None:
    run = shell(examples, {"command": "echo one; echo two >&2; printf 'three\\nfour'"})
    run.join()
    assert run.error is None and run.value == {"exit_code": 0, "lines": 4}
    assert run.lines == ["one", "two", "three", "four"]


def test_shell_runs_in_cwd_and_without_a_shell(examples: LoadReport, tmp_path: Path) -> None:
    run = shell(examples, {"command": "pwd", "cwd": str(tmp_path)})
    run.join()
    assert run.lines == [str(tmp_path)]
    run = shell(examples, {"command": "printf '%s|' 'a b' $HOME", "shell": False})
    run.join()
    assert run.lines == ["a b|$HOME|"]


def test_shell_non_zero_exit_fails_the_job(examples: LoadReport) -> None:
    run = shell(examples, {"command": "echo about to fail; exit 3"})
    run.join()
    assert isinstance(run.error, RuntimeError) and str(run.error) == "command exited with code 3"
    assert run.lines == ["about to fail"]


@pytest.mark.skipif(os.name != "posix", reason="process groups and /proc")
@pytest.mark.parametrize("ignores_term", [False, True])
def test_cancel_kills_the_whole_process_group(examples: LoadReport, ignores_term: bool) -> None:
    trap = "trap '' TERM; " if ignores_term else ""  # ignored signals are inherited: SIGKILL is needed
    ctx = Context.background().with_cancel()
    run = shell(examples, {"command": f"{trap}sleep 30 & echo $$ $!; wait"}, ctx)
    wait_until(lambda: run.lines, message="the command's first line")
    group, child = (int(pid) for pid in run.lines[0].split())
    assert alive(child)
    cancelled_at = time.monotonic()
    ctx.cancel()
    run.join(10)
    assert isinstance(run.error, Cancelled)
    assert time.monotonic() - cancelled_at < (6 if ignores_term else 2)
    wait_until(lambda: not group_members(group), timeout=5, message=f"process group {group} gone")
    assert not alive(child)


@pytest.mark.skipif(os.name != "posix", reason="process groups and /proc")
def test_a_timeout_kills_the_command_too(examples: LoadReport) -> None:
    ctx = Context.background().with_timeout(0.5)
    run = shell(examples, {"command": "echo $$; exec sleep 30"}, ctx)
    run.join()
    assert isinstance(run.error, DeadlineExceeded)
    wait_until(lambda: not group_members(int(run.lines[0])), timeout=5, message="the command gone")


def test_a_cancelled_job_starts_nothing(examples: LoadReport, tmp_path: Path) -> None:
    ctx = Context.background().with_cancel()
    ctx.cancel()
    marker = tmp_path / "ran"
    run = shell(examples, {"command": f"touch {marker}"}, ctx)
    run.join()
    assert isinstance(run.error, Cancelled) and not marker.exists()


def test_shell_outcomes_through_run_job(examples: LoadReport) -> None:
    handler = examples.handlers["shell.run"]
    assert handler.on_interrupt == "fail"
    job = Job("shell.run", {"command": "exit 5"})
    job.id, job.attempts, job.max_attempts = 1, 1, 1
    completion = run_job(Context.background(), job, handler)
    assert completion.state is JobState.FAILED and completion.error == "RuntimeError: command exited with code 5"


# -- folder.process (checkpoints) ----------------------------------------------------------------

def test_folder_process_saves_checkpoints_and_resumes_where_it_left_off(examples: LoadReport, tmp_path: Path) -> None:
    handler = examples.handlers["folder.process"]
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(25):
        (folder / f"f{i:02}.txt").write_text(f"file {i}")
    first = Job("folder.process", {"folder": str(folder), "every": 10})
    first.id, first.attempts = 7, 1
    ctx = Context.background().with_cancel()
    first.attach_reporter(lambda job, fraction, _m: ctx.cancel() if fraction and fraction >= 0.5 else None)
    completion = run_job(ctx, first, handler)  # cancelled between files 13 and 14
    assert completion.state is JobState.CANCELLED and first.checkpoint == {"done": 10, "last": "f09.txt"}
    again = Job("folder.process", {"folder": str(folder), "every": 10})
    again.id, again.attempts, again.checkpoint = 7, 2, first.checkpoint
    again.attach_outputs(first.output_sink)  # the same output folder, as the app gives a job's next attempt
    result = handler.handle(Context.background(), again)
    assert result == {"files": 25, "resumed_at": 10} and again.checkpoint == {"done": 20, "last": "f19.txt"}
    lines = (again.output_dir / "digests.txt").read_text().splitlines()
    assert [line.split()[1] for line in lines] == [f"f{i:02}.txt" for i in list(range(13)) + list(range(10, 25))]
    assert lines[0].split()[0] == hashlib.sha256(b"file 0").hexdigest()


# -- enqueue with schemas ---------------------------------------------------------------------------

def test_enqueue_checks_payloads_against_the_example_schemas(examples: LoadReport, tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "acacia.db")
    registry = Registry()
    registry.replace_all(examples.handlers)
    queue = JobQueue(store, registry, payload_validator=validate_payload)
    ctx = Context.background()
    bad = [
        (Job("demo.sleep", {"seconds": -1}), "payload.seconds: -1 is less than the minimum of 0"),
        (Job("file.hash", {"algorithm": "md5"}), "payload: 'path' is a required property"),
        (Job("file.hash", {"path": "x", "algorithm": "crc32"}), "payload.algorithm: 'crc32' is not one of"),
        (Job("shell.run", {"command": ""}), "payload.command: '' should be non-empty"),
    ]
    for job, message in bad:
        with pytest.raises(InvalidPayloadError, match=message.replace("(", r"\(").replace(")", r"\)")):
            queue.enqueue(ctx, job)
    assert store.count_jobs() == 0, "a refused payload writes nothing"
    job_id = queue.enqueue(ctx, Job("shell.run", {"command": "true"}))
    assert store.get_job(job_id).max_attempts == 1
    store.close()


# -- /proc helpers --------------------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2:].split()  # fields after "pid (comm) "


def alive(pid: int) -> bool:
    """Running and not a zombie (an orphan's zombie may wait for a reaper in a container)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members
