"""`python -m devstack <command>`: the local stack.

  up      start Azurite, the Data Factory emulator, the alert receiver and the host stand-in
          with the app on the documented ports; keep them running until Ctrl-C (or `down`)
  down    stop a stack started by `up`
  demo    the guided tour: start the stack, land data, follow runs, show alerts, summarise
  host    only the Functions host stand-in (see `python -m devstack host --help`)
  adf     only the Data Factory emulator (see `python -m devstack adf --help`)
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "host":
        from devstack.host.cli import main as run
    elif command == "adf":
        from devstack.adf.__main__ import main as run
    elif command in ("up", "down"):
        from devstack.up import down, up

        run = up if command == "up" else down
    elif command == "demo":
        from devstack.demo import main as run
    else:
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    return run(rest) or 0


if __name__ == "__main__":
    sys.exit(main())
