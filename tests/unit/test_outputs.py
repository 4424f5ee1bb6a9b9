"""core/outputs.py: what an artifact records, what is refused, and removing an output folder
without ever following a symlink out of `<data dir>/outputs`."""

from __future__ import annotations

import os
import stat

import pytest

from acacia_gui.core.definitions import MAX_ARTIFACTS_PER_JOB
from acacia_gui.core.errors import InvalidOptionError
from acacia_gui.core.job import Job
from acacia_gui.core.outputs import (
    OutputFolderError,
    describe_artifact,
    ensure_output_dir,
    outputs_root_of,
    remove_output_dir,
)


class Recorded:
    """An ArtifactSink keeping what it is given (the engine's writes to the store)."""

    def __init__(self, root):
        self.root = root
        self.added: list[tuple[int, dict]] = []

    def add(self, job_id, artifact):
        self.added.append((job_id, artifact))


def test_an_artifact_is_measured_and_typed_when_added(tmp_path):
    (tmp_path / "a.SHA256").write_text("x" * 70)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(b"p" * 100)
    (tmp_path / "README").write_text("hi")
    a = describe_artifact(tmp_path / "a.SHA256", "checksum")
    assert (a["name"], a["size"], a["kind"], a["label"]) == ("a.SHA256", 70, "sha256", "checksum")
    assert os.path.isabs(a["path"]) and isinstance(a["at"], float)
    assert (describe_artifact(folder)["kind"], describe_artifact(folder)["size"]) == ("folder", 300)
    assert describe_artifact(tmp_path / "README")["kind"] == "file"


@pytest.mark.parametrize("args, message", [
    (("missing.txt",), "must exist"),
    (("{dir}/x.txt", "l" * 201), "at most 200 characters"),
    (("{dir}/x.txt", 5), "label must be text"),
    ((None,), "must be a path"),
    (("/dev/null",), "file or a folder"),
])  # fmt: skip
def test_bad_artifacts_are_refused(tmp_path, args, message):
    (tmp_path / "x.txt").write_text("x")
    args = tuple(a.format(dir=tmp_path) if isinstance(a, str) else a for a in args)
    with pytest.raises(InvalidOptionError, match=message):
        describe_artifact(*args)


def test_the_output_folder_is_private_and_made_on_first_use(tmp_path):
    root = tmp_path / "outputs"
    job = Job("t", {})
    job.id = 7
    sink = Recorded(root)
    job.attach_outputs(sink)
    assert not root.exists()  # nothing until the handler asks
    folder = job.output_dir
    assert folder == root / "7" and stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    (folder / "r.txt").write_text("r")
    recorded = job.add_artifact(folder / "r.txt")
    assert sink.added == [(7, recorded)] and recorded["size"] == 1


def test_a_job_run_outside_acacia_gets_a_temporary_folder_and_keeps_its_artifacts():
    job = Job("t", {})  # a handler called directly, as a plugin's own tests do
    folder = job.output_dir
    assert folder.is_dir() and folder.parent.name.startswith("acacia-outputs-")
    (folder / "out.txt").write_text("o")
    job.add_artifact(folder / "out.txt", "o")
    assert [a["name"] for a in job.output_sink.artifacts] == ["out.txt"]


def test_a_run_s_artifacts_are_bounded(tmp_path):
    job = Job("t", {})
    job.id = 1
    job.attach_outputs(Recorded(tmp_path))
    path = tmp_path / "f"
    path.write_text("f")
    job._artifacts_added = MAX_ARTIFACTS_PER_JOB - 1
    job.add_artifact(path)
    with pytest.raises(InvalidOptionError, match="at most 1,000"):
        job.add_artifact(path)


def test_a_symlink_in_place_of_the_output_folder_is_refused_by_ensure(tmp_path):
    root = tmp_path / "outputs"
    root.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "3").symlink_to(elsewhere)
    with pytest.raises(OutputFolderError, match="symlink"):
        ensure_output_dir(root, 3)


def test_removing_an_output_folder_removes_only_it(tmp_path):
    root = tmp_path / "outputs"
    folder = ensure_output_dir(root, 5)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("k")
    (folder / "sub").mkdir()
    (folder / "sub" / "link").symlink_to(outside)  # a link inside: removed as a link, its target kept
    (folder / "file").write_text("f")
    ensure_output_dir(root, 6)
    assert remove_output_dir(root, 5) is True
    assert not folder.exists() and (outside / "keep").exists() and (root / "6").is_dir()
    assert remove_output_dir(root, 5) is False  # none (any more)


def test_removing_refuses_symlinks_and_files(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "data").write_text("d")
    root = tmp_path / "outputs"
    root.mkdir()
    (root / "1").symlink_to(victim)
    (root / "2").write_text("not a folder")
    for job_id in (1, 2):
        with pytest.raises(OutputFolderError):
            remove_output_dir(root, job_id)
    linked_root = tmp_path / "linked-outputs"
    linked_root.symlink_to(tmp_path / "victim")
    (victim / "9").mkdir()
    with pytest.raises(OutputFolderError, match="symlink"):
        remove_output_dir(linked_root, 9)
    assert (victim / "data").exists() and (victim / "9").is_dir() and (root / "2").is_file()


def test_the_outputs_root_is_next_to_the_database(tmp_path):
    class Store:
        path = tmp_path / "acacia.db"

    assert outputs_root_of(Store()) == tmp_path / "outputs"
    assert outputs_root_of(object()) is None
