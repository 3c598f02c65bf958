"""The zomes this build of coledger installs, in DNA order."""

from __future__ import annotations

from zomes.api import CountersignHooks, Zome


def installed_zomes() -> tuple[Zome, ...]:
    from zomes.accounting.zome import ZOME as ACCOUNTING
    from zomes.valueflows.zome import ZOME as VALUEFLOWS

    return (VALUEFLOWS, ACCOUNTING)


def countersign_hooks() -> CountersignHooks:
    """The app's side of countersigned sessions: ValueFlows transfers."""
    from zomes.valueflows.countersign import TransferHook

    return TransferHook
