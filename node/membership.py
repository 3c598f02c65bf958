"""Networks an agent belongs to: creating a DNA, the network file, and genesis.

A home belongs to one network: its chain starts with that DNA's address.
"""

from __future__ import annotations

import hashlib
import importlib.util
import secrets
from pathlib import Path
from typing import Any

from node.api import Agent, new_dna
from node.core.actions import AgentValidationPkg
from node.core.dna import DnaDef, ZomeRef
from node.core.errors import CoreError, Field, LocalError
from node.core.identity import AgentId
from node.core.refusals import OutOfRange, TargetExists
from node.core.scratch import Scratch
from node.store.network_file import current_dna, read_network_file, write_network_file
from zomes.api import IntegrityZome, Zome
from zomes.membrane.invitations import (
    check_membrane_proof,
    issue_invitation,
    proof_of_token,
    token_of,
)
from zomes.registry import installed_zomes
from zomes.valueflows.messages import describe_error


def code_hash(zome: IntegrityZome) -> str:
    """blake2b-256 over the source of the zome's integrity modules, in order."""
    h = hashlib.blake2b(digest_size=32)
    for module in zome.modules:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise LookupError(f"integrity module {module} has no source")
        h.update(module.encode() + b"\0" + Path(spec.origin).read_bytes() + b"\0")
    return h.hexdigest()


def zome_refs(zomes: tuple[Zome, ...]) -> tuple[ZomeRef, ...]:
    return tuple(
        ZomeRef(
            name=z.integrity.name, version=z.integrity.version, code_hash=code_hash(z.integrity)
        )
        for z in zomes
    )


def agent_entry(agent: Agent) -> dict[str, Any]:
    entry: dict[str, Any] = {"agent": agent.agent_id.to_bytes()}
    if agent.info.name:
        entry["name"] = agent.info.name
    return entry


def genesis(agent: Agent, dna: DnaDef, membrane_proof: bytes | None) -> None:
    """Write Dna, AgentValidationPkg and the agent entry, and remember the DNA."""
    if agent.head() is not None:
        raise LocalError(f"{agent.paths.root} already belongs to a network; use a new home")

    def build(s: Scratch) -> None:
        s.genesis(dna.address, membrane_proof, agent_entry(agent))

    agent.commit(build)
    write_network_file(agent.paths.network, dna, mode=0o600)


def create_network(agent: Agent, name: str, properties: dict[str, str], target: Path) -> DnaDef:
    """A new network with this agent as progenitor; genesis; the shareable network file."""
    try:
        dna = new_dna(name, agent.agent_id, zome_refs(installed_zomes()), properties)
    except ValueError as e:  # pydantic's, on the name or a property
        raise LocalError(f"bad network: {describe_error(e)}") from None
    if target.exists():
        raise TargetExists(f"{target} exists; choose another ", Field("target", "target"))
    genesis(agent, dna, None)
    write_network_file(target, dna)
    return dna




DEFAULT_INVITE_DAYS = 7
MAX_INVITE_DAYS = 36_500  # a hundred years: further is an overflow, not an intent


def own_membrane_proof(agent: Agent) -> bytes | None:
    """The proof this agent joined with (None for the progenitor)."""
    record = agent.store.get_record_at(1)
    if record is None or not isinstance(record.action, AgentValidationPkg):
        raise LocalError("this agent has not joined a network yet")
    return record.action.membrane_proof


def invite(agent: Agent, invitee: str, days: float = DEFAULT_INVITE_DAYS) -> str:
    """A token inviting `invitee` (an agent id) into this agent's network."""
    dna = current_dna(agent)
    try:
        invitee_id = AgentId.parse(invitee)
    except CoreError:
        raise LocalError(f"{invitee!r} is not an agent id (12D3KooW...)") from None
    if invitee_id == agent.agent_id:
        raise LocalError("an agent cannot invite itself")
    if not 0 < days <= MAX_INVITE_DAYS:  # also refuses nan
        raise OutOfRange(f"an invitation expires in more than 0 and at most {MAX_INVITE_DAYS} "
                         "days (", Field("days", "days"), ")")
    expires = agent.clock() + int(days * 86_400 * 1_000_000)
    proof = issue_invitation(
        agent.key(), own_membrane_proof(agent), dna.address, invitee_id, expires,
        secrets.token_bytes(16),
    )
    return token_of(proof)


def join(agent: Agent, network_file: Path, token: str) -> DnaDef:
    """Genesis on the network of `network_file`, with the invitation as membrane proof.

    The proof is checked first (as validators will), so a bad token writes nothing."""
    dna, bootstrap = read_network_file(network_file)
    ours = tuple(r.model_dump() for r in zome_refs(installed_zomes()))
    if tuple(r.model_dump() for r in dna.zomes) != ours:
        raise LocalError("this network runs other integrity rules than this coledger version")
    proof = proof_of_token(token)
    problem = check_membrane_proof(
        proof, author=agent.agent_id, network_id=dna.address, progenitor=dna.progenitor_id,
        at_us=agent.clock(),
    )
    if problem is not None:
        raise LocalError(f"invitation refused: {problem}")
    genesis(agent, dna, proof)
    write_network_file(agent.paths.network, dna, bootstrap, mode=0o600)
    return dna
