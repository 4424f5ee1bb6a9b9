"""The PyInstaller bundle's entry point: `dist/acacia/acacia [args]`.

`--acacia-worker` is the hidden mode the app starts its handler worker processes in;
`--self-test` runs the headless install check (acacia_gui/selftest.py), which starts
this same binary again as `acacia serve`; every other argument list goes to the normal
`acacia` command (no arguments: the window; `serve`: headless; the rest: the CLI).
"""

from __future__ import annotations

import sys


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--acacia-worker"]:  # a handler worker process (sys.executable is this bundle, not Python)
        from acacia_gui.engine.processes.child import main as worker_main

        return worker_main(args[1:])
    if "--self-test" in args:
        from acacia_gui import selftest

        return selftest.main(args)
    from acacia_gui.__main__ import main as acacia_main

    return acacia_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
