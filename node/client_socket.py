"""`SocketClient`: the front door's Client when the home's node runs (node/client.py has
the other, `LocalClient`, which it extends): what needs the network is asked of the node
over its socket, every write is sent to it (node/client_writes.py), and the home's own data
is read on the home."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from node.client import Found, LocalClient, NotStoredHere
from node.client_commons import NodeCommons
from node.client_writes import NodeWrites

if TYPE_CHECKING:
    from zomes.accounting.dataset import Dataset


class SocketClient(NodeWrites, LocalClient, NodeCommons):
    """The home's running node asked over its socket for what needs the network, and
    for every write (NodeWrites); reads of the home's own data stay on the home."""

    def _call(self, method: str, timeout: float = 60.0, **params: Any) -> Any:
        from node.runtime.socket_client import call

        return call(self.home, method, timeout=timeout, **params)

    def get(self, address: str) -> Found:
        """From the home, else from the network (the view only: no stored bytes)."""
        try:
            return super().get(address)
        except NotStoredHere as e:
            return Found(self._call("get", address=e.address), None)

    def get_many(self, addresses: Sequence[str]) -> list[dict[str, Any] | None]:
        return cast(list[dict[str, Any] | None], self._call("get_many", addresses=[*addresses]))

    def inventory(self, agent: str | None = None) -> list[dict[str, Any]]:
        if agent is None:
            return super().inventory()
        rows: list[dict[str, Any]] = self._call("inventory", agent=agent)
        return rows

    def flows(self, address: str, backwards: bool,
              limit: int | None = None) -> list[dict[str, Any]]:
        """Across chains: the node follows the agents the events name."""
        nodes: list[dict[str, Any]] = self._call("flows", address=address, backwards=backwards,
                                                 limit=limit)
        return nodes

    def gather(self, max_agents: int, network: bool = True) -> tuple[Dataset, str]:
        """Through the node, breadth first from its peers (`network`), else the home's."""
        from node.gather import gather_from_node

        if not network:
            return super().gather(max_agents, network)
        return gather_from_node(self.home, max_agents=max_agents)

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self._call("status")
        return status

    def peers(self) -> list[dict[str, Any]]:
        peers: list[dict[str, Any]] = self._call("peers")
        return peers

    def connect(self, address: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("connect", address=address)
        return result

    def sync(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("sync")
        return result

    def links(self, base: str, link_type: str | None = None, tag_prefix: str = "",
              include_deleted: bool = False, after: str | None = None,
              limit: int = 1000) -> dict[str, Any]:
        page: dict[str, Any] = self._call(
            "links", base=base, link_type=link_type, tag_prefix=tag_prefix,
            include_deleted=include_deleted, after=after, limit=limit)
        return page

    def countersign(self, event: dict[str, Any], to: str, wait_s: float) -> dict[str, Any]:
        """Propose a countersigned event to `to`: the session as proposed."""
        session: dict[str, Any] = self._call("cs_start", event=event, to=to, wait_s=wait_s)
        return session

    def session(self, id: str) -> dict[str, Any]:  # noqa: A002
        session: dict[str, Any] = self._call("cs_session", id=id)
        return session

    def sessions(self, everything: bool = False) -> list[dict[str, Any]]:
        sessions: list[dict[str, Any]] = self._call("cs_list", everything=everything)
        return sessions

    def accept(self, id: str) -> dict[str, Any]:  # noqa: A002
        session: dict[str, Any] = self._call("cs_accept", id=id)
        return session

    def decline(self, id: str, reason: str | None = None) -> dict[str, Any]:  # noqa: A002
        session: dict[str, Any] = self._call("cs_decline", id=id, reason=reason)
        return session

    def recover(self, force: bool, bootstrap: Sequence[str], timeout: float, *,
                quiet: bool = True) -> dict[str, Any]:
        """The running node recovers (it knows its peers; `bootstrap` is not needed)."""
        result: dict[str, Any] = self._call("recover", timeout + 150, force=force)
        return result
