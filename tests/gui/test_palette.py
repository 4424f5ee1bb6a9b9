"""Light/dark: icons are re-tinted from the palette, nothing is painted in fixed colours that would vanish."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


def opaque_lightness(icon) -> int:
    """Lightness of the most opaque pixel of a 24 px rendering of `icon`."""
    image = icon.pixmap(24, 24).toImage()
    best = max((image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())),
               key=lambda c: c.alpha())  # fmt: skip
    return best.lightness()


def test_icons_follow_a_dark_palette(window, qtbot):
    app = QApplication.instance()
    light = app.palette()
    assert opaque_lightness(window.job_actions.new_job.icon()) < 100  # dark strokes on a light theme
    dark = QPalette(light)
    dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#e8eaed"))
    dark.setColor(QPalette.ColorRole.Base, QColor("#17181a"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e8eaed"))
    app.setPalette(dark)
    try:
        qtbot.waitUntil(lambda: opaque_lightness(window.job_actions.new_job.icon()) > 180, timeout=5000)
        assert opaque_lightness(window.reload_action.icon()) > 180
        image = window.table.viewport().grab().toImage()
        assert image.pixelColor(5, image.height() - 5).lightness() < 80  # the table's base follows the palette
    finally:
        app.setPalette(light)
