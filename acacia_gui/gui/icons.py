"""SVG icons from resources/icons, tinted to the current palette.

Action icons are drawn with `stroke="currentColor"`; Qt's SVG renderer does not follow
a palette, so the text is rewritten with the palette's colour before rendering. The
cache is keyed by colour, so a light/dark switch simply yields new icons.
"""

from __future__ import annotations

import importlib.resources
import sys
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

ICON_SIZES = (16, 20, 24, 32, 48)


def icons_dir() -> Path | None:
    """Installed package data first, then a PyInstaller bundle, then the source tree."""
    candidates: list[Path] = []
    try:
        candidates.append(Path(str(importlib.resources.files("acacia_gui") / "resources" / "icons")))
    except (ModuleNotFoundError, OSError, TypeError):
        pass
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "resources" / "icons")
    candidates.append(Path(__file__).resolve().parents[2] / "resources" / "icons")
    for path in candidates:
        if path.is_dir():
            return path
    return None


@lru_cache(maxsize=256)
def _svg_bytes(name: str) -> bytes | None:
    folder = icons_dir()
    if folder is None:
        return None
    path = folder / f"{name}.svg"
    return path.read_bytes() if path.is_file() else None


def _render(svg: bytes, size: int, dpr: float) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg))
    pixels = max(1, round(size * dpr))
    image = QImage(pixels, pixels, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, pixels, pixels))
    painter.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(dpr)
    return pixmap


@lru_cache(maxsize=512)
def _icon(name: str, color: str, disabled_color: str, dpr: float) -> QIcon:
    raw = _svg_bytes(name)
    icon = QIcon()
    if raw is None:
        return icon
    for mode, tint in ((QIcon.Mode.Normal, color), (QIcon.Mode.Disabled, disabled_color)):
        svg = raw.replace(b"currentColor", tint.encode("ascii"))
        for size in ICON_SIZES:
            icon.addPixmap(_render(svg, size, dpr), mode)
    return icon


def icon(name: str, palette: QPalette | None = None, dpr: float = 2.0) -> QIcon:
    """The icon `resources/icons/<name>.svg`, tinted for `palette` (an empty QIcon if missing)."""
    palette = palette or QPalette()
    color = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    if disabled == color:
        disabled = _blend(color, palette.color(QPalette.ColorRole.Window), 0.4)
    return _icon(name, color.name(), disabled.name(), dpr)


def _blend(front: QColor, back: QColor, amount: float) -> QColor:
    """`amount` of `front` over `back` (SVG colours here are opaque #rrggbb)."""
    def mix(a: int, b: int) -> int:
        return round(a * amount + b * (1 - amount))

    return QColor(mix(front.red(), back.red()), mix(front.green(), back.green()), mix(front.blue(), back.blue()))


def app_icon() -> QIcon:
    """The application icon (resources/icons/app/acacia.svg when packaging adds it, else icons/acacia.svg)."""
    for name in ("app/acacia", "acacia"):
        raw = _svg_bytes(name)
        if raw is not None:
            result = QIcon()
            for size in (16, 24, 32, 48, 64, 128, 256):
                result.addPixmap(_render(raw, size, 1.0))
            return result
    return QIcon()


def state_icon(state: str) -> QIcon:
    """The coloured icon of a job state (fixed mid-tone colours that read on light and dark)."""
    return icon(f"state-{state}")


def icon_size(size: int = 16) -> QSize:
    return QSize(size, size)
