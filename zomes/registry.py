"""The zomes this build of coledger installs, in DNA order."""

from __future__ import annotations

from zomes.api import Zome


def installed_zomes() -> tuple[Zome, ...]:
    from zomes.accounting.zome import ZOME as ACCOUNTING
    from zomes.valueflows.zome import ZOME as VALUEFLOWS

    return (VALUEFLOWS, ACCOUNTING)
