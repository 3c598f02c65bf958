"""App validation: dispatch each op to the integrity zome that owns it.

Also the membership gate: an op whose author's AgentValidationPkg is invalid is
invalid itself. A zome signals a missing dependency by raising MissingDependency
(from a deps.must_get_* call): that becomes Unresolved, never Invalid. Malformed
content (the zome raising ValueError, TypeError, KeyError or a RemoteError) is
Invalid; any other exception is a bug in our code and propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from node.core.actions import ActionBase, AgentValidationPkg, CreateLink, Delete, DeleteLink, Dna
from node.core.chain import AGENT_ENTRY_TYPE
from node.core.cid import Cid
from node.core.errors import RemoteError
from node.core.ops import Op, OpType
from node.core.outcome import VALID, Invalid, MissingDependency, Outcome, Unresolved
from node.core.records import Record, SignedAction
from zomes.api import Deps, IntegrityZome, MemoSlot, fold_chain, split_entry_type

GenesisCheck = Callable[[Op], Outcome]

# an action -> the AgentValidationPkg of its chain up to it (the fold's state)
_AVPS: MemoSlot[Cid, SignedAction | None] = MemoSlot("agent validation pkgs")
# an AgentValidationPkg -> the genesis check's verdict on it
_AVP_VERDICTS: MemoSlot[Cid, Outcome] = MemoSlot("agent validation pkg verdicts")

APP_RULES = ("check_author_membership", "check_link_delete", "check_zome_exists",
             "app_validation")

# RemoteError, not only DecodeError: e.g. an event naming an address-shaped string that
# is no CID makes Cid.parse raise AddressError, which must be a rejection, not a crash.
_MALFORMED = (ValueError, TypeError, KeyError, RemoteError)


def _avp_step(found: SignedAction | None, record: Record) -> SignedAction | None:
    return record.signed if isinstance(record.action, AgentValidationPkg) else found


def check_author_membership(op: Op, deps: Deps, validate_genesis: GenesisCheck) -> Outcome:
    """The author's AgentValidationPkg (seq 1 of this chain) carries a valid membrane proof.

    Judged where the chain is held: by the agent-activity authorities (who warrant a
    non-member, so every peer blocks it) and for the AgentValidationPkg itself. Other
    authorities would otherwise need the author's whole chain for every op."""
    action = op.action
    if isinstance(action, AgentValidationPkg):
        return validate_genesis(op)
    if isinstance(action, Dna) or op.type is not OpType.REGISTER_AGENT_ACTIVITY:
        return VALID
    avp = fold_chain(deps, action.prev_action, _AVPS, lambda: None, _avp_step)
    if avp is None:
        return Invalid("check_author_membership", "the author's chain has no AgentValidationPkg")
    # ...and so does the chain up to this action (it is no AgentValidationPkg): the fold
    # state for it, memoized now, saves the next action's fold a step back (it is
    # immutable, so sharing it between the two keys is safe)
    memo = deps.memo
    memo.remember(_AVPS, op.signed.address, avp)
    verdict = memo.recall(_AVP_VERDICTS, avp.address)
    if verdict is None:
        verdict = validate_genesis(Op(OpType.STORE_RECORD, avp))
        memo.remember(_AVP_VERDICTS, avp.address, verdict)
    if isinstance(verdict, Invalid):
        return Invalid("check_author_membership", f"the author is not a member: {verdict.reason}")
    return verdict


def seed_membership(deps: Deps, top: Cid, avp: SignedAction) -> None:
    """Tell `check_author_membership` that the chain up to `top` has this
    AgentValidationPkg: an author checking its own commit knows it, and would otherwise
    walk its whole chain back to genesis on every commit (O(chain) per commit)."""
    deps.memo.remember(_AVPS, top, avp)


def check_link_delete(op: Op, deps: Deps) -> Outcome:
    """A DeleteLink deletes a CreateLink from the same base, made by the same author: only
    a link's author may delete it (every op of the action gets the same verdict)."""
    action = op.action
    if not isinstance(action, DeleteLink):
        return VALID
    link = deps.must_get_record(action.link_add).action
    if not isinstance(link, CreateLink):
        return Invalid("check_link_delete", f"{action.link_add} is a {link.TYPE}, not a link")
    if link.base != action.base:
        return Invalid("check_link_delete", f"the link is from {link.base}, not {action.base}")
    if link.author != action.author:
        return Invalid("check_link_delete", "only the link's author may delete it")
    return VALID


def _owning_zome(action: ActionBase, deps: Deps) -> str | None:
    """The zome whose rules apply to this action (None for system actions)."""
    if isinstance(action, CreateLink):
        return action.zome
    if isinstance(action, DeleteLink):
        link = deps.must_get_record(action.link_add).action
        return link.zome if isinstance(link, CreateLink) else None
    if isinstance(action, Delete):
        return _owning_zome(deps.must_get_record(action.deletes_action).action, deps)
    entry_type = getattr(action, "entry_type", None)
    if entry_type is None or entry_type == AGENT_ENTRY_TYPE:
        return None
    return split_entry_type(entry_type)[0]


def app_validate(
    op: Op, deps: Deps, zomes: Mapping[str, IntegrityZome], validate_genesis: GenesisCheck
) -> Outcome:
    """Membership gate, then the owning zome's validate; never raises for bad data."""
    try:
        member = check_author_membership(op, deps, validate_genesis)
        if not isinstance(member, type(VALID)):
            return member
        deletes = check_link_delete(op, deps)
        if not isinstance(deletes, type(VALID)):
            return deletes
        zome_name = _owning_zome(op.action, deps)
        if zome_name is None:
            return VALID
        zome = zomes.get(zome_name)
        if zome is None:
            return Invalid("check_zome_exists", f"zome {zome_name!r} is not part of this network")
        return zome.validate(op, deps)
    except MissingDependency as e:
        return Unresolved(tuple(e.addresses))
    except _MALFORMED as e:
        return Invalid("app_validation", f"malformed data: {e}")
