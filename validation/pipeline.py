"""The validator of one network: sys validation then app validation, as one object.

Pure: it holds the network's identity and integrity zomes; the genesis check
(membrane proof) is passed in, since the membrane zome sits above this layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from node.core.chain import AGENT_ENTRY_TYPE
from node.core.cid import Cid
from node.core.ops import Op
from node.core.outcome import Outcome, Valid
from validation.app import GenesisCheck, app_validate
from validation.sys import sys_validate
from zomes.api import Deps, IntegrityZome


@dataclass(frozen=True)
class Validator:
    network_id: Cid
    zomes: tuple[IntegrityZome, ...]
    validate_genesis: GenesisCheck
    by_name: dict[str, IntegrityZome] = field(init=False)
    known_entry_types: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        by_name = {z.name: z for z in self.zomes}
        types = {AGENT_ENTRY_TYPE} | {z.entry_type_name(t) for z in self.zomes for t in z.entry_types}
        object.__setattr__(self, "by_name", by_name)
        object.__setattr__(self, "known_entry_types", frozenset(types))

    def sys(self, op: Op, deps: Deps, now_us: int) -> Outcome:
        return sys_validate(
            op, network_id=self.network_id, known_entry_types=self.known_entry_types,
            now_us=now_us, deps=deps,
        )

    def app(self, op: Op, deps: Deps) -> Outcome:
        return app_validate(op, deps, self.by_name, self.validate_genesis)

    def validate(self, op: Op, deps: Deps, now_us: int) -> Outcome:
        """Both stages; the first non-Valid outcome wins."""
        outcome = self.sys(op, deps, now_us)
        return self.app(op, deps) if isinstance(outcome, Valid) else outcome
