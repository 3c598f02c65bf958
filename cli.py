"""The `coledger` command: parses arguments, runs the command (clicmd/, one module per
group, each asking node.api's front door), prints text or --json.

Errors are one line on stderr and a non-zero exit (a traceback only with --debug).
argparse (not typer) keeps a one-event command near 100 ms; heavy imports (libp2p,
pint) happen only inside the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, NoReturn

os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")  # skips an entry-point scan


def _no_pydantic_plugins() -> None:
    """With every plugin disabled, pydantic's plugin loader finds none, yet importing it
    imports importlib.metadata (with email, zipfile, csv: ~10 ms a command): a loader that
    finds none stands in for it (tests/unit/test_startup_imports.py checks pydantic's own
    finds none too, and asks it for get_plugins alone)."""
    disabled = os.environ["PYDANTIC_DISABLE_PLUGINS"] == "__all__"
    if not disabled or "pydantic.plugin._loader" in sys.modules:
        return
    loader = types.ModuleType("pydantic.plugin._loader", "No pydantic plugins (cli.py).")
    loader.get_plugins = tuple  # type: ignore[attr-defined]  # get_plugins() -> ()
    sys.modules[loader.__name__] = loader


_no_pydantic_plugins()

# The command groups register their commands as they are imported, in this order (the
# order of `coledger --help` and of docs/cli.md).
# isort: off
import clicmd.chain  # noqa: E402, F401
import clicmd.network  # noqa: E402, F401
import clicmd.vf  # noqa: E402, F401
import clicmd.countersign  # noqa: E402, F401
import clicmd.views  # noqa: E402, F401
import clicmd.reports  # noqa: E402, F401
import clicmd.entries  # noqa: E402, F401
import clicmd.plans  # noqa: E402, F401
import clicmd.running  # noqa: E402, F401
import clicmd.config  # noqa: E402, F401
import clicmd.service  # noqa: E402, F401
import clicmd.unlock  # noqa: E402, F401  (running imports it first: its flags)
import clicmd.planning  # noqa: E402, F401
import clicmd.commitments  # noqa: E402, F401
import clicmd.agreements  # noqa: E402, F401
import clicmd.backups  # noqa: E402, F401
# isort: on
from clicmd.common import _COMMANDS, OPTS, arg, clean, command, forget_client  # noqa: E402
from node.core.errors import CoreError, Field, NotFound  # noqa: E402

__all__ = ["ERROR_KINDS", "_COMMANDS", "build_parser", "main"]


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2), as every coledger error is one line."""

    def error(self, message: str) -> NoReturn:
        fail("usage", f"{message} (see {self.prog} --help)", 2, prog=self.prog)

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # Python 3.11 turns `--note=--` into [] (it drops the "--"): the text "--" it is
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value
        return super()._get_values(action, arg_strings)


# Error kinds of `--json` errors ({"error": message, "kind": kind} on stderr), by exit code:
# 2 usage; 1 rejected (a rule refused it), not_found, refused (anything else asked of us
# that cannot be done), bad_data (data from a peer, a file or the disk is malformed),
# system (the file system or the OS refused), internal (a bug: please report it);
# 130 interrupted.
ERROR_KINDS: Final = ("usage", "rejected", "not_found", "refused", "bad_data", "system",
                      "internal", "interrupted")


def fail(kind: str, message: str, code: int, *, prog: str = "coledger") -> NoReturn:
    """Print one error line on stderr (JSON under --json) and exit with `code`."""
    if OPTS.json:
        print(json.dumps({"error": message, "kind": kind}), file=sys.stderr)
    else:
        label = "internal error" if kind == "internal" else "error"
        print(f"{prog}: {label}: {clean(message)}", file=sys.stderr)
    raise SystemExit(code)


def _error_kind(error: Exception) -> str:
    from node.core.errors import RemoteError

    if isinstance(error, NotFound):
        return "not_found"
    if type(error).__name__ == "RuleBroken":  # node.runtime: not imported for every command
        return "rejected"
    if isinstance(error, RemoteError):
        return "bad_data"
    return "refused"


def _hinted(error: CoreError) -> str:
    """The error's message as this command line says it: a request's fields by their
    flags, and what to do about it here (the library's messages name neither)."""
    from node.client import NotStoredHere
    from node.core.errors import Phrased

    text = error.phrase(_flag) if isinstance(error, Phrased) else str(error)
    if isinstance(error, NotStoredHere):
        return f"{text} (start `coledger run` to look on the network)"
    return text + next((hint for kind, hint in _hints() if isinstance(error, kind)), "")


def _flag(field: Field) -> str:
    """A request's field named by its command-line flag (`to_resource`: `--to-resource`)."""
    return FLAG_OF.get(field.name, "--" + field.name.replace("_", "-"))


FLAG_OF: Final = {"wait_s": "--wait", "fmt": "--format", "factors": "--factor",
                  "shares": "--share", "target": "--out", "begins_us": "--from",
                  "ends_us": "--until"}
"""The flags not named after their request field."""


def _hints() -> tuple[tuple[type[CoreError], str], ...]:
    """What to do on this command line about each kind of refusal: appended to its message."""
    from node.core import refusals as r

    return (
        (r.NoNode, ": start one with `coledger run`"),
        (r.NodeSilent, "; is `coledger run` still running?"),
        (r.NoPeerKnown, ": start `coledger run`, or give a member's address with --bootstrap"
                        " (or keep it with `coledger peers add`)"),
        (r.NotJoined, ": run `coledger network create` or `coledger join`"),
        (r.NetworkFileMissing, ": put it back with `coledger network file --restore"
                               " NAME.network.json` (the file a member shares; it is checked"
                               " against this chain)"),
        (r.NoSession, " (see `coledger pending`)"),
        (r.NoKey, ": run `coledger init` first"),
        (r.NoChain, "; an agent that never joined can `init --force`"),
        (r.ChainBehind, ": run `coledger chain recover`"),
        (r.ChainUnchecked, "; start `coledger run` with members reachable (it compares the"
                           " chain and takes back what it lacks), or run `coledger chain"
                           " recover`"),
        (r.WriteRefused, "; run `coledger chain verify` for details"),
        (r.RecoveryLoses, "; run `coledger chain recover --force` to do it"),
        (r.UnknownAction, "; `coledger actions` lists the 19 VF actions"),
    )


def _os_message(error: OSError) -> str:
    """An OSError in words: what could not be done to which file, and why."""
    reason = error.strerror or str(error) or type(error).__name__
    if error.filename is not None:
        return f"cannot use {error.filename}: {reason}"
    return reason


class _Version(argparse.Action):
    """--version, which reads the installed version only when asked: importlib.metadata
    and the package's metadata cost every command about 10 ms (argparse's own action
    wants the text when the parser is built)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(_version())
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"coledger {version('coledger')}"
    except PackageNotFoundError:
        return "coledger (not installed)"


def _common_options(required: bool) -> argparse.ArgumentParser:
    """--home, --json and --debug: before the command, or after it (as the docs write
    them); after a command they override what was given before, and never reset it."""
    common = argparse.ArgumentParser(add_help=False)
    keep: dict[str, Any] = {} if required else {"default": argparse.SUPPRESS}
    common.add_argument("--home", type=Path, **keep,
                        help="agent home directory [$COLEDGER_HOME or ~/.coledger]")
    common.add_argument("--json", action="store_true", **keep,
                        help="machine-readable JSON output (errors too, on stderr)")
    common.add_argument("--debug", action="store_true", **keep,
                        help="show tracebacks on errors")
    return common


def build_parser(only: str | None = None) -> Parser:
    """The whole command line's parser; with `only` (a command or group's first word, see
    `_asked`), the parser of that command alone, which parses and helps it alike: building
    the parsers of every command costs one command about 8 ms."""
    parser = Parser(
        prog="coledger",
        description="coledger: an agent-centric ledger of ValueFlows economic events "
                    "for cooperatives.",
        parents=[_common_options(True)],
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    after = [_common_options(False)]
    subparsers: dict[str, Any] = {
        "": parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser),
    }
    groups = {"chain": "this agent's source chain", "network": "networks this agent creates",
              "spec": "resource and process specifications",
              "process": "processes that turn inputs into outputs",
              "report": "flow, contributive and thermodynamic accounting",
              "equation": "value equations: how income is shared by contribution",
              "footprint": "footprints declared on specifications; allocations to outputs",
              "budget": "allocations per period (e.g. a carbon budget)",
              "config": "the home's config file, config.toml"}
    # a command that is also a group (`peers`, `peers add`): its words alone run it
    grouping = {path.rsplit(" ", 1)[0] for path, _, _ in _COMMANDS if " " in path}
    both = {path: (fn, args) for path, fn, args in _COMMANDS if path in grouping}
    for path, fn, args in _COMMANDS:
        *parents, name = path.split()
        if only is not None and (parents or [name])[0] != only:
            continue
        prefix = ""
        for part in [*parents, name] if path in both else parents:
            key = f"{prefix} {part}".strip()
            if key not in subparsers:
                own = both.get(key)
                doc = (own[0].__doc__ or "").strip() if own else groups.get(part)
                group = subparsers[prefix].add_parser(
                    part, help=doc.splitlines()[0] if doc else None, description=doc,
                    parents=after)
                for flags, kw in own[1] if own else ():
                    group.add_argument(*flags, **kw)
                if own:
                    group.set_defaults(handler=own[0])
                subparsers[key] = group.add_subparsers(dest=f"{key}_command", metavar="COMMAND",
                                                       required=not own, parser_class=Parser)
            prefix = key
        if path in both:
            continue
        doc = (fn.__doc__ or "").strip()
        sub = subparsers[prefix].add_parser(name, help=doc.splitlines()[0] if doc else None,
                                            description=doc, parents=after)
        for flags, kw in args:
            sub.add_argument(*flags, **kw)
        sub.set_defaults(handler=fn)
    return parser


@command("completion", arg("shell", choices=("bash", "zsh", "fish"),
                           help="the shell to complete coledger's commands in"))
def cmd_completion(a: argparse.Namespace) -> None:
    """Print the shell completion script of coledger's commands and options.

    e.g. `coledger completion bash > ~/.local/share/bash-completion/completions/coledger`
    (docs/operations.md, "Shell completion", for zsh and fish)."""
    import shtab

    parser = build_parser()
    for sub in _parsers(parser):
        _for_completion(sub, shtab.DIRECTORY, shtab.FILE)
    print(shtab.complete(parser, shell=a.shell), end="")


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """`parser` and every parser of its commands and groups, depth first."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def _for_completion(parser: argparse.ArgumentParser, directory: Any, file: Any) -> None:
    """What shtab needs to hear of one parser: a text for a group without a description
    (its zsh and fish scripts want one) and which options take a directory or a file."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and parser.description is None:
            parser.description = ", ".join(action.choices)
        elif action.dest == "home":
            action.complete = directory  # type: ignore[attr-defined]  # shtab's attribute
        elif action.type is Path:
            action.complete = file  # type: ignore[attr-defined]


def _asked(words: list[str]) -> str | None:
    """The first word of the command the command line names, when it is a known command or
    group and only --home, --json and --debug come before it; else None (help, --version,
    an unknown or missing command, anything unusual), for which the whole parser is built."""
    at = 0
    while at < len(words):
        word = words[at]
        if word == "--home":
            at += 2
        elif word in ("--json", "--debug") or word.startswith("--home="):
            at += 1
        elif word.startswith("-"):
            return None
        else:
            return word if any(path.split()[0] == word for path, _, _ in _COMMANDS) else None
    return None


def main(argv: list[str] | None = None) -> None:
    words = sys.argv[1:] if argv is None else argv
    # known before parsing, so that usage errors are JSON too under --json
    OPTS.json = "--json" in words[: words.index("--")] if "--" in words else "--json" in words
    parser = build_parser(_asked(words))
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        raise SystemExit(2)
    from node.api import default_home

    OPTS.home = args.home if args.home is not None else default_home()
    OPTS.json, OPTS.debug = args.json, args.debug
    forget_client()
    try:
        args.handler(args)
    except CoreError as e:
        if OPTS.debug:
            raise
        fail(_error_kind(e), _hinted(e), 1)
    except BrokenPipeError:  # the reader went away (`| head`): nobody left to tell
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except OSError as e:  # the file system or the OS refused: not a bug of ours
        if OPTS.debug:
            raise
        fail("system", _os_message(e), 1)
    except KeyboardInterrupt:
        fail("interrupted", "interrupted", 130)
    except Exception as e:  # the last resort: one line, the traceback only with --debug
        if OPTS.debug:
            raise
        fail("internal", f"{type(e).__name__}: {e} (run with --debug for the traceback, "
                         "and please report it)", 1)


if __name__ == "__main__":
    main()
