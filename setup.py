"""Build glue that pyproject.toml cannot express: ship the top-level resources/ in the wheel.

Everything else (metadata, dependencies, scripts, package data) is in pyproject.toml.
The repository keeps the example plugins and the icons in `resources/` (where plugin
authors and icon designers look for them); the wheel installs that folder as
`acacia_gui/resources/`, which is where `importlib.resources.files("acacia_gui")`
finds it at run time. Mapping a sub-package onto another folder needs `package_dir`
plus an explicit package list, and pyproject.toml's `packages.find` cannot add to a
list, so the list is computed here.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

RESOURCES = Path(__file__).resolve().parent / "resources"


def resource_packages() -> list[str]:
    """acacia_gui.resources and its sub-folders (listing them keeps setuptools from warning about "data packages")."""
    names = ["acacia_gui.resources"]
    for folder in sorted(RESOURCES.rglob("*")):
        parts = folder.relative_to(RESOURCES).parts
        if folder.is_dir() and all(part.isidentifier() and part != "__pycache__" for part in parts):
            names.append(".".join(("acacia_gui.resources", *parts)))
    return names


setup(
    packages=[
        *find_namespace_packages(include=["acacia_gui", "acacia_gui.*"], exclude=["*.__pycache__"]),
        *resource_packages(),
    ],
    package_dir={"acacia_gui.resources": "resources"},
)
