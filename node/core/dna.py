"""The DNA: what makes a network itself. Its address is the network id.

Only integrity matters: the integrity zomes (name, version, hash of their code),
the network's properties, the progenitor and a seed. Coordinator code is not part
of it, so changing a coordinator function keeps the network id.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from node.core.cid import Cid
from node.core.encoding import encode
from node.core.identity import AgentId

DEFAULT_REDUNDANCY = 5


class ZomeRef(BaseModel):
    """An integrity zome as the DNA pins it."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    name: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=32)
    code_hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class DnaDef(BaseModel):
    """A network definition; `address` is the network id."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    name: str = Field(min_length=1, max_length=128)
    zomes: tuple[ZomeRef, ...]
    properties: dict[str, str] = Field(default_factory=dict)
    progenitor: str
    network_seed: str = Field(min_length=1, max_length=128)

    def to_obj(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def address(self) -> Cid:
        return Cid.of(encode(self.to_obj()))

    @property
    def progenitor_id(self) -> AgentId:
        return AgentId.parse(self.progenitor)

    @property
    def redundancy(self) -> int:
        """R: how many authorities hold each piece of data (property `redundancy`)."""
        raw = self.properties.get("redundancy", str(DEFAULT_REDUNDANCY))
        return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_REDUNDANCY
