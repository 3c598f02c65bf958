"""The zomes this build of coledger installs, in DNA order, and the app's hooks the
runtime calls (it imports no app itself)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zomes.api import AppLedger, CountersignHook, CountersignHooks, OwnRecords, ViewHook, Zome

if TYPE_CHECKING:
    from zomes.valueflows.zome import ChainView


def installed_zomes() -> tuple[Zome, ...]:
    from zomes.accounting.zome import ZOME as ACCOUNTING
    from zomes.valueflows.zome import ZOME as VALUEFLOWS

    return (VALUEFLOWS, ACCOUNTING)


def countersign_hooks() -> CountersignHooks:
    """The app's side of countersigned sessions: ValueFlows transfers (the default) and
    agreements."""
    from zomes.valueflows.agreement_hook import AgreementHook
    from zomes.valueflows.countersign import TransferHook

    def hooks(ledger: AppLedger, own: OwnRecords) -> tuple[CountersignHook, ...]:
        return TransferHook(ledger, own), AgreementHook(ledger, own)

    return hooks


def app_view() -> ViewHook[ChainView]:
    """The app's view of a chain that the ledger keeps folded: ValueFlows' ChainView."""
    from zomes.valueflows.chain_views import CHAIN_VIEWS

    return CHAIN_VIEWS
