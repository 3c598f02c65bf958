"""Commands that keep a home safe: backup (while the node runs) and restore."""

from __future__ import annotations

import argparse
from pathlib import Path

from clicmd.common import OPTS, agent, arg, command, emit, iso_time, passphrase


@command("backup", arg("file", type=Path, help="the backup file to write (replaced if there)"))
def cmd_backup(a: argparse.Namespace) -> None:
    """Write a consistent snapshot of this home, encrypted with the agent's key, to FILE
    (also while its node runs; mode 0600, written atomically)."""
    from node.store.backup import write_backup

    with agent() as ag:
        made = write_backup(ag.paths.root, ag.key(), ag.info.name, a.file)
    emit(made, f"backed up {made['head_seq'] + 1} actions of {made['agent_id']} to"
               f" {made['file']} ({made['bytes']} bytes)")


@command("restore", arg("file", type=Path, help="a backup file written by `coledger backup`"))
def cmd_restore(a: argparse.Namespace) -> None:
    """Restore a backup into an empty home (--home); the passphrase opens its key. The
    restored node writes nothing until it has compared its chain with the network's."""
    from node.store.backup import restore_backup

    done = restore_backup(a.file, OPTS.home, passphrase)
    emit(done, f"restored {done['head_seq'] + 1} actions of {done['agent_id']} (backup of"
               f" {iso_time(done['created_us'])}) into {done['home']}; start `coledger run`"
               " with members reachable: it takes back from the network what was recorded"
               " after the backup before writing anything")
