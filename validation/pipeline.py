"""The validator of one network: sys validation then app validation, as one object.

Pure: it holds the network's identity and integrity zomes; the genesis check
(membrane proof) is passed in, since the membrane zome sits above this layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from node.core.chain import AGENT_ENTRY_TYPE
from node.core.cid import Cid
from node.core.ops import Op
from node.core.outcome import Invalid, Outcome, Valid
from node.core.records import Entry, SignedAction
from validation.app import GenesisCheck, app_validate
from validation.sys import OP_CHECKS, SYS_RULES, CanonicalChecked, sys_validate
from zomes.api import Deps, IntegrityZome, MemoSlot

# The sys rules checked before or at the signature: any other outcome means it verified.
_UP_TO_SIGNATURE: Final = frozenset(SYS_RULES[: SYS_RULES.index("check_signature") + 1])
# The rules every op is checked against (the prev-action rules follow them).
_OP_RULES: Final = frozenset(check.__name__ for check in OP_CHECKS)


class _Verified(SignedAction):
    """A signed action whose signature this validator has verified already."""

    __slots__ = ()

    def verify_signature(self) -> None:
        return None


class _Checked(_Verified, CanonicalChecked):
    """...and that is the very object whose bytes, address and model matched then."""

    __slots__ = ()


# What an action's ops have shown of it, by (address, signature): the object that passed,
# its twin that skips the signature (and the canonical check, for that very object), and
# (entry, now_us) when that object carrying that entry at that time passed every rule
# that does not read the op's type (sys_validate's action_checked).
_Seen = tuple[SignedAction, SignedAction, tuple[Entry | None, int] | None]
_SIGNATURES: MemoSlot[tuple[Cid, bytes], _Seen] = MemoSlot("verified signatures")


@dataclass(frozen=True)
class Validator:
    network_id: Cid
    zomes: tuple[IntegrityZome, ...]
    validate_genesis: GenesisCheck
    by_name: dict[str, IntegrityZome] = field(init=False)
    known_entry_types: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        by_name = {z.name: z for z in self.zomes}
        types = {AGENT_ENTRY_TYPE} | {
            z.entry_type_name(t) for z in self.zomes for t in z.entry_types
        }
        object.__setattr__(self, "by_name", by_name)
        object.__setattr__(self, "known_entry_types", frozenset(types))

    def sys(self, op: Op, deps: Deps, now_us: int) -> Outcome:
        """sys_validate, verifying each action's signature once for all the ops that
        carry it (memoized in deps.memo by the action's address and signature).

        The memo keeps the object that passed: the ops of one action usually share it
        (DhtStore.due decodes an action once), and for that same object the canonical
        encoding need not be checked again either; nor, when it carries the same entry at
        the same time, any rule that does not read the op's type."""
        signed, memo = op.signed, deps.memo
        key = (signed.address, signed.signature)
        seen = memo.recall(_SIGNATURES, key)
        checked = False
        if seen is not None:
            same = seen[0] is signed
            twin = seen[1] if same else _Verified(
                signed.action, signed.data, signed.address, signed.signature)
            op = Op(op.type, twin, op.entry)
            checked = same and seen[2] is not None and seen[2] == (op.entry, now_us)
        outcome = sys_validate(
            op, network_id=self.network_id, known_entry_types=self.known_entry_types,
            now_us=now_us, deps=deps, action_checked=checked,
        )
        if checked or (seen is not None and seen[0] is not signed):
            return outcome
        invalid = outcome.rule if isinstance(outcome, Invalid) else None
        if invalid not in _OP_RULES:  # every op rule passed
            twin = seen[1] if seen is not None else _Checked(
                signed.action, signed.data, signed.address, signed.signature)
            memo.remember(_SIGNATURES, key, (signed, twin, (op.entry, now_us)))
        elif seen is None and invalid not in _UP_TO_SIGNATURE:
            memo.remember(_SIGNATURES, key, (signed, _Checked(
                signed.action, signed.data, signed.address, signed.signature), None))
        return outcome

    def verified(self, signed: SignedAction, deps: Deps) -> bool:
        """Whether this action's signature is known to verify (memoized in deps.memo)."""
        return deps.memo.holds(_SIGNATURES, (signed.address, signed.signature))

    def note_verified(self, signed: SignedAction, deps: Deps) -> None:
        """Remember that this action's signature verified (checked on arrival), so that
        validating its ops does not verify it again."""
        key = (signed.address, signed.signature)
        if not deps.memo.holds(_SIGNATURES, key):
            deps.memo.remember(_SIGNATURES, key, (signed, _Verified(
                signed.action, signed.data, signed.address, signed.signature), None))

    def app(self, op: Op, deps: Deps) -> Outcome:
        return app_validate(op, deps, self.by_name, self.validate_genesis)

    def validate(self, op: Op, deps: Deps, now_us: int) -> Outcome:
        """Both stages; the first non-Valid outcome wins."""
        outcome = self.sys(op, deps, now_us)
        return self.app(op, deps) if isinstance(outcome, Valid) else outcome
