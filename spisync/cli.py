"""The `spisync` command: one subcommand per role.

Each role's CLI is imported only when asked for, so an agent installed with
`pip install 'spisync[agent]'` never imports the hub's storage libraries.
"""

from __future__ import annotations

import importlib
import os
import sys

from spisync.version import spisync_version

__all__ = ["main"]

_EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a process ended by SIGPIPE

_ROLES = {
    "agent": ("agent.cli", "the town-hall agent: watch folders and registry, send changes"),
    "hub": ("hub.cli", "the ORP hub: store open spisy, provision agents, build SIPs"),
    "archive": ("archive.cli", "the regional archive consumer: validate and keep SIPs"),
    "demo": ("demo", "run the whole network on this machine for a simulated day"),
}

_USAGE = (
    "usage: spisync [--version] {"
    + ",".join(_ROLES)
    + "} ...\n\n"
    + "\n".join(f"  {name:<8} {about}" for name, (_, about) in _ROLES.items())
)


def main(argv: list[str] | None = None) -> int:
    """Run `spisync <role> ...`; return the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help"}:
        print(_USAGE)
        return 0 if args else 2
    if args[0] == "--version":
        print(f"spisync {spisync_version()}")
        return 0
    role, rest = args[0], args[1:]
    if role not in _ROLES:
        print(f"spisync: unknown role {role!r}\n\n{_USAGE}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(_ROLES[role][0])
    except ModuleNotFoundError as exc:
        print(
            f"spisync {role}: missing dependency {exc.name!r}; "
            f"install with: pip install 'spisync[{role if role != 'demo' else 'all'}]'",
            file=sys.stderr,
        )
        return 2
    try:
        code: int = module.main(rest)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`spisync hub files ... | head`): stop quietly, as `cat` would.
        # Python flushes stdout again at exit; point it at /dev/null so that flush is silent.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return _EXIT_BROKEN_PIPE
    return code


if __name__ == "__main__":
    raise SystemExit(main())
