"""Schema forms for real schemas (issue 11, defects 3 and 4): arrays, nested objects, ranges never clamped,
every error at once under its field, a reason when there is no form, and drop-to-enqueue that asks for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit

from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.gui.dialogs.drop_dialog import DropJobsDialog
from acacia_gui.gui.dialogs.new_job_dialog import FORM_TAB, JSON_TAB, NewJobDialog
from acacia_gui.gui.dialogs.schema_form import SchemaForm, unsupported_reason
from acacia_gui.plugins.schema import payload_errors, validate_payload
from acacia_gui.store.sqlite import SqliteJobStore

RENDER = {
    "type": "object",
    "properties": {
        "scene": {"type": "string", "format": "path", "title": "Scene"},
        "tags": {"type": "array", "title": "Tags", "items": {"type": "string"}, "default": ["draft"]},
        "size": {"type": "object", "title": "Size",
                 "properties": {"width": {"type": "integer", "minimum": 1, "maximum": 8192, "title": "Width"},
                                "height": {"type": "integer", "minimum": 1, "maximum": 8192, "title": "Height"}},
                 "required": ["width", "height"]},
        "quality": {"type": "integer", "minimum": 0, "maximum": 9, "default": 5, "title": "Quality"},
        "codec": {"enum": ["h264", "vp9"], "title": "Codec", "default": "h264"},
        "overwrite": {"type": "boolean", "title": "Overwrite existing files", "default": False},
    },
    "required": ["scene", "size", "quality"],
    "additionalProperties": False,
}
CHOICE = {"type": "object", "properties": {"source": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}}


def _noop(ctx, job):
    return None


@pytest.fixture
def queue(tmp_path, qtbot):
    registry = Registry()
    registry.register_handler("test.render", _noop, title="Render", schema=RENDER)
    registry.register_handler("test.choice", _noop, title="Choice", schema=CHOICE)
    registry.register_handler("test.convert", _noop, title="Convert", schema={
        "type": "object",
        "properties": {"path": {"type": "string", "format": "path"},
                       "quality": {"type": "integer", "minimum": 1, "maximum": 100, "title": "Quality"}},
        "required": ["path", "quality"], "additionalProperties": False})  # fmt: skip
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    yield JobQueue(store, registry, payload_validator=validate_payload)
    store.close()


def test_array_and_nested_object_build_a_form_whose_payload_validates(qtbot):
    assert unsupported_reason(RENDER) == ""
    form = SchemaForm(RENDER)
    qtbot.addWidget(form)
    tags = form.fields["tags"]
    assert [item.editor.text() for item in tags.items] == ["draft"]  # the default
    qtbot.mouseClick(tags.add_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(tags.items[1].editor, "final")
    tags.add_item("spare")
    tags.remove_item(0)
    size = form.fields["size"]
    qtbot.keyClicks(size.fields["width"].editor, "1920")
    qtbot.keyClicks(size.fields["height"].editor, "1080")
    qtbot.keyClicks(form.fields["scene"].editor, "/tmp/scene.blend")
    payload, problems = form.value()
    assert problems == []
    assert payload == {"scene": "/tmp/scene.blend", "tags": ["final", "spare"], "size": {"width": 1920, "height": 1080},
                       "quality": 5, "codec": "h264", "overwrite": False}  # fmt: skip
    assert payload_errors(RENDER, payload) == []
    assert form.set_value({**payload, "tags": ["x"]}) and [i.editor.text() for i in tags.items] == ["x"]


def test_out_of_range_is_refused_next_to_the_field_and_never_clamped(qtbot):
    form = SchemaForm(RENDER)
    qtbot.addWidget(form)
    quality = form.fields["quality"]
    assert "from 0 to 9" in quality.editor.placeholderText()  # the range hint
    quality.editor.clear()
    qtbot.keyClicks(quality.editor, "99")
    problems = form.validate()
    assert quality.editor.text() == "99"  # what the user typed stays
    assert form.payload()["quality"] == 99
    assert quality.errors == ["99 is greater than the maximum of 9"]
    assert quality.error_label.isVisibleTo(form)
    assert quality.editor.property("invalid") is True  # highlighted
    assert "payload.quality: 99 is greater than the maximum of 9" in problems
    quality.editor.setText("7")
    form.validate()
    assert quality.errors == [] and not quality.editor.property("invalid")


def test_every_error_is_shown_at_once_under_its_field(queue, qtbot):
    dialog = NewJobDialog(queue, job_type="test.render")
    qtbot.addWidget(dialog)
    form = dialog.form
    form.fields["quality"].editor.setText("-1")
    form.fields["size"].fields["width"].editor.setText("wide")
    form.fields["tags"].add_item()
    form.fields["tags"].items[-1].editor.setText("ok")
    assert not dialog.enqueue_button.isEnabled()
    assert form.fields["scene"].errors == ["'scene' is a required property"]
    assert form.fields["quality"].errors == ["-1 is less than the minimum of 0"]
    assert form.fields["size"].fields["width"].errors == ["'wide' is not of type 'integer'"]
    assert form.fields["size"].fields["height"].errors == ["'height' is a required property"]
    for where in ("payload.scene", "payload.quality", "payload.size.width", "payload.size.height"):
        assert where in dialog.problem  # the same four, in the queue's words, below the form
    assert len(dialog.problem.splitlines()) == 4


def test_a_schema_without_a_form_says_why(queue, qtbot):
    dialog = NewJobDialog(queue, job_type="test.choice")
    qtbot.addWidget(dialog)
    assert dialog.form is None
    assert dialog.payload_tabs.currentIndex() == JSON_TAB
    assert dialog.payload_tabs.isTabEnabled(FORM_TAB)  # not silently greyed out
    why = "payload.source uses “oneOf”, which a form cannot show"
    assert why in dialog.payload_tabs.tabToolTip(FORM_TAB)
    note = dialog.findChild(QLabel, "noFormReason")
    assert note is not None and why in note.text()


def test_a_check_box_has_no_stray_label(qtbot):
    form = SchemaForm(RENDER)
    qtbot.addWidget(form)
    form.resize(500, 600)
    form.show()
    qtbot.waitExposed(form)
    overwrite = form.fields["overwrite"].editor
    assert isinstance(overwrite, QCheckBox) and overwrite.text() == "Overwrite existing files"
    stray = [label for label in form.findChildren(QLabel) if "Overwrite" in label.text()]
    assert stray == []  # the check box carries its own text; no loose label painted over another field


def test_dropping_a_file_asks_for_the_other_required_fields(queue, qtbot, tmp_path: Path):
    dropped = tmp_path / "movie.mov"
    dropped.write_text("frames")
    dialog = DropJobsDialog(queue, [str(dropped)])
    qtbot.addWidget(dialog)
    assert dialog.handler_box.findData("test.convert") >= 0
    dialog.handler_box.setCurrentIndex(dialog.handler_box.findData("test.convert"))
    form = dialog.form
    assert form is not None and list(form.fields) == ["quality"]  # the path comes from the drop
    assert not dialog.enqueue_button.isEnabled()
    assert "payload.quality: 'quality' is a required property" in dialog.problem.text()
    editor = form.fields["quality"].editor
    assert isinstance(editor, QLineEdit)
    qtbot.keyClicks(editor, "80")
    assert dialog.enqueue_button.isEnabled(), dialog.problem.text()
    dialog.accept()
    assert len(dialog.job_ids) == 1
    assert queue.store.require_job(dialog.job_ids[0]).payload == {"path": str(dropped), "quality": 80}
