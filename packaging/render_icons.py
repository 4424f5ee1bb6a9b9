"""Render the app icon's PNG sizes from its SVG (resources/icons/app/acacia.svg).

The PNGs (and the .ico/.icns for Windows/macOS builds) are checked in, because desktop
environments, AppStream and installers want bitmaps; re-run this after changing the SVG:

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/render_icons.py

Uses QtSvg + QImage only, so it runs anywhere the app runs (no Inkscape, no Pillow).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
APP_ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons" / "app"


def render(svg: bytes, size: int) -> QImage:
    """The SVG scaled to size x size on a transparent background."""
    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise ValueError("the app icon SVG does not parse")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # QImage text/fonts need one
    svg = (APP_ICONS / "acacia.svg").read_bytes()
    for size in SIZES:
        target = APP_ICONS / f"acacia-{size}.png"
        if not render(svg, size).save(str(target), "PNG"):
            print(f"could not write {target}", file=sys.stderr)
            return 1
        print(target)
    # Single-image icon files for the Windows and macOS bundles (PyInstaller's --icon);
    # Qt's writers take one image each, and both systems scale it down well.
    for name, size, fmt in (("acacia.ico", 256, "ICO"), ("acacia.icns", 512, "ICNS")):
        target = APP_ICONS / name
        if not render(svg, size).save(str(target), fmt):
            print(f"could not write {target}", file=sys.stderr)
            return 1
        print(target)
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
