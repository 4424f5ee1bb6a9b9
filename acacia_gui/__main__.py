"""The `acacia` command: no arguments opens the window, `serve` runs headless, the rest is the CLI.

The CLI never imports Qt (it must answer in milliseconds); only this dispatcher knows
how to start the app, and hands that to the CLI as a callback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def launch_app(options: object) -> int:
    from acacia_gui import app

    return app.run(options)


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if "--self-test" in args:  # the install check (selftest.py): runs `acacia serve` in a child process
        from acacia_gui import selftest

        return selftest.main(args)
    from acacia_gui import cli

    return cli.main(args, launch_app=launch_app)


if __name__ == "__main__":
    raise SystemExit(main())
