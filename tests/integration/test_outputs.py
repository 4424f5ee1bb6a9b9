"""A job's outputs end to end, in a real `acacia serve`: job.output_dir and job.add_artifact in
both isolation modes, what `acacia show` / the socket report, `acacia open`, deleting with and
without the outputs, and the example plugins (the hasher's .sha256, the shell runner's stdout).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import textwrap
from pathlib import Path

import pytest

from acacia_gui.store.sqlite import SqliteJobStore
from tests.conftest import wait_until
from tests.integration.serve_process import Sandbox, ServeProcess, served_app

pytestmark = pytest.mark.timeout(120)

PLUGIN = textwrap.dedent('''
    """Test plugin: handlers that write outputs, then wait for a release file."""
    import os, time
    from acacia_gui.jobs import handler

    def write_and_hold(ctx, job):
        out = job.output_dir / "report.txt"
        out.write_text("hello outputs\\n")
        job.add_artifact(out, label="the report")
        deadline = time.monotonic() + 60
        while job.payload.get("release") and not os.path.exists(job.payload["release"]):
            if time.monotonic() > deadline:
                raise RuntimeError("never released")
            ctx.wait(0.02)
        return {"mode": oct(os.stat(job.output_dir).st_mode & 0o777)}

    @handler("out.process")
    def in_process(ctx, job):
        return write_and_hold(ctx, job)

    @handler("out.thread", isolation="thread")
    def in_thread(ctx, job):
        return write_and_hold(ctx, job)

    @handler("out.bad", isolation="thread")
    def bad(ctx, job):
        problems = []
        for args in ((job.output_dir / "missing.txt",), (__file__, "x" * 201)):
            try:
                job.add_artifact(*args)
            except ValueError as exc:
                problems.append(str(exc))
        return problems
''')


def add_plugin(box: Sandbox) -> None:
    (box.plugins_dir / "outputs_test.py").write_text(PLUGIN, encoding="utf-8")
    os.chmod(box.plugins_dir / "outputs_test.py", 0o600)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with served_app(tmp_path_factory, "outputs", add_plugin) as (box, _serve):
        yield box


def wait_done(box: Sandbox, job_id: int) -> dict:
    with box.client() as client:
        wait_until(lambda: client.get(job_id)["state"] in ("succeeded", "failed", "cancelled"), timeout=30)
        return client.get(job_id)


@pytest.mark.parametrize("job_type", ["out.process", "out.thread"])
def test_an_artifact_is_recorded_while_the_job_runs_and_shown_by_show_and_get(app, job_type, tmp_path):
    release = tmp_path / "release"
    with app.client() as client:
        job_id = client.enqueue(job_type, {"release": str(release)})
        wait_until(lambda: client.get(job_id)["artifacts"], timeout=30, message="the artifact, before the job ends")
        reply = client.get(job_id)
        assert reply["state"] == "running"  # recorded as added, not when the job ends
        release.touch()
    done = wait_done(app, job_id)
    assert done["state"] == "succeeded", done
    folder = app.data_dir / "outputs" / str(job_id)
    assert done["output_dir"] == str(folder.absolute()) or Path(done["output_dir"]) == folder.absolute()
    assert done["result"]["mode"] == "0o700" and stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    (artifact,) = done["artifacts"]
    assert (artifact["name"], artifact["size"], artifact["kind"], artifact["label"]) == ("report.txt", 14, "txt",
                                                                                         "the report")
    assert Path(artifact["path"]) == (folder / "report.txt").absolute()
    shown = app.cli("show", str(job_id))
    assert shown.returncode == 0, shown.stderr
    assert "outputs (1):" in shown.stdout and "report.txt  14 bytes  txt" in shown.stdout
    as_json = json.loads(app.cli("show", str(job_id), "--json").stdout)
    assert as_json["artifacts"][0]["name"] == "report.txt" and as_json["output_dir"] == done["output_dir"]


def test_bad_artifacts_are_refused_with_a_clear_message(app):
    with app.client() as client:
        job_id = client.enqueue("out.bad", {})
    done = wait_done(app, job_id)
    assert done["state"] == "succeeded", done
    missing, long_label = done["result"]
    assert "must exist" in missing and "missing.txt" in missing
    assert "at most 200 characters" in long_label
    assert done["artifacts"] == []


def test_the_example_plugins_write_their_outputs(app, tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(b"acacia" * 1000)
    with app.client() as client:
        hashed = client.enqueue("file.hash", {"path": str(data)})
        shell = client.enqueue("shell.run", {"command": "for i in 1 2 3; do echo line $i; done"})
    done = wait_done(app, hashed)
    (checksum,) = done["artifacts"]
    assert (checksum["name"], checksum["kind"]) == ("data.bin.sha256", "sha256")
    assert Path(checksum["path"]).read_text().split() == [done["result"]["digest"], "data.bin"]
    ran = wait_done(app, shell)
    (stdout,) = ran["artifacts"]
    assert stdout["name"] == "stdout.txt" and Path(stdout["path"]).read_text() == "line 1\nline 2\nline 3\n"
    assert stdout["size"] == len("line 1\nline 2\nline 3\n")  # registered again at the end: its final size


def test_delete_keeps_outputs_unless_asked_and_the_cli_removes_them_with_outputs(app):
    with app.client() as client:
        kept, removed, by_socket = (client.enqueue("out.thread", {}) for _ in range(3))
    folders = {job_id: app.data_dir / "outputs" / str(job_id) for job_id in (kept, removed, by_socket)}
    for job_id in folders:
        wait_done(app, job_id)
    plain = app.cli("delete", str(kept))
    assert plain.returncode == 0 and plain.stdout.strip() == "deleted 1 job(s)"
    assert (folders[kept] / "report.txt").exists()  # the files are the user's to keep
    with_outputs = app.cli("delete", str(removed), "--outputs")
    assert with_outputs.returncode == 0, with_outputs.stderr
    assert with_outputs.stdout.strip() == "deleted 1 job(s) and 1 output folder(s)"
    assert not folders[removed].exists()
    with app.client() as client:
        reply = client.delete_many([by_socket], outputs=True)
    assert reply["outputs_removed"] == [by_socket] and reply["output_errors"] == []
    assert not folders[by_socket].exists()


def test_delete_with_outputs_refuses_a_symlink_in_place_of_the_folder(app, tmp_path):
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    with app.client() as client:
        job_id = client.enqueue("out.thread", {})
    wait_done(app, job_id)
    folder = app.data_dir / "outputs" / str(job_id)
    (folder / "report.txt").unlink()
    folder.rmdir()
    folder.symlink_to(victim, target_is_directory=True)
    with app.client() as client:
        reply = client.delete_many([job_id], outputs=True)
    assert reply["deleted"] == 1 and reply["outputs_removed"] == []
    assert "symlink" in reply["output_errors"][0]["error"]["message"]
    assert (victim / "keep.txt").read_text() == "mine" and folder.is_symlink()


def test_acacia_open_prints_the_folder_without_a_desktop_and_runs_the_opener_with_one(app, tmp_path):
    with app.client() as client:
        job_id = client.enqueue("out.thread", {})
        nothing = client.enqueue("file.hash", {"path": str(tmp_path / "absent")})  # fails before writing anything
    wait_done(app, job_id)
    wait_done(app, nothing)
    folder = str((app.data_dir / "outputs" / str(job_id)).absolute())
    headless = {k: v for k, v in app.env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    printed = app.cli("open", str(job_id), env=headless)
    assert printed.returncode == 0 and printed.stdout.strip() == folder
    assert "no desktop" in printed.stderr
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opened = tmp_path / "opened"
    (bin_dir / "xdg-open").write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n')
    os.chmod(bin_dir / "xdg-open", 0o700)
    desktop = {**headless, "DISPLAY": ":99", "PATH": f"{bin_dir}{os.pathsep}{headless.get('PATH', '')}"}
    ran = app.cli("open", str(job_id), env=desktop)
    assert ran.returncode == 0, ran.stderr
    wait_until(lambda: opened.exists() and opened.read_text() == folder, timeout=10)
    missing = app.cli("open", str(nothing), env=headless)
    assert missing.returncode == 1 and "has no output folder" in missing.stderr
    for bad in (["open", "999999"], ["open", "abc"], ["open"]):
        result = app.cli(*bad, env=headless)
        assert result.returncode == 2, (bad, result.stderr)
        assert len(result.stderr.strip().splitlines()) >= 1 and not result.stdout


def test_an_artifact_survives_a_crash_of_the_app(tmp_path):
    box = Sandbox(tmp_path)
    add_plugin(box)
    serve = ServeProcess(box, "--workers", "1").start()
    try:
        with box.client() as client:
            job_id = client.enqueue("out.process", {"release": str(tmp_path / "never")})
            wait_until(lambda: client.get(job_id)["artifacts"], timeout=30)
        serve.proc.send_signal(signal.SIGKILL)
        serve.proc.wait(20)
    finally:
        serve.stop()
        box.cleanup()
    store = SqliteJobStore(box.data_dir / "acacia.db")
    try:
        (artifact,) = store.get_artifacts(job_id)
        assert artifact["name"] == "report.txt" and Path(artifact["path"]).exists()
    finally:
        store.close()
