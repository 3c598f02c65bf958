"""The Clients' part in the planning commons, as bases of node/client.py's two Clients:
plans from recipes (another member's too), the recipes on the network, what a cooperative
holds or will produce with no planned use (for matching), other agents' chains, the
agreements on this chain and proposing one (through the running node).
`HomeCommons` works on the home (what needs the network says no node runs); `NodeCommons`
asks the running node for what the network holds (recipe_commons.py reads it).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from node.core.records import Record
    from node.core.refusals import NoNode
    from node.store.home import Agent
    from node.vf_ledger import Ledger
    from zomes.accounting.dataset import Dataset
    from zomes.valueflows.entries import VfEntry
    from zomes.valueflows.offers import Fetch, LinksPage


class HomeCommons:
    """LocalClient's planning commons: on the home alone."""

    if TYPE_CHECKING:  # (LocalClient's own)
        def _agent(self) -> AbstractContextManager[Agent]: ...
        def _ledger(self) -> AbstractContextManager[Ledger]: ...
        def _no_node(self) -> NoNode: ...
        @staticmethod
        def _held_records(agent: Agent) -> list[Record]: ...

    def plan_from_recipe(self, recipe: str, quantity: str, due_us: int, *,
                         name: str | None = None, buy: Sequence[str] = ()) -> dict[str, Any]:
        """Write a plan to make `quantity` of a recipe's output by `due_us`, from the recipes
        and footprints this home holds (its chain and the chains its DHT store holds) and,
        for another member's recipe it does not hold, those its node fetches."""
        from zomes.valueflows.recipes import recipe_entries

        with self._agent() as agent:
            me, own = str(agent.agent_id), list(agent.store.records())
            records = self._held_records(agent)
        fetched: list[Record] = []
        if recipe not in recipe_entries(own):  # another's design: what this home holds of
            _, fetched = self._network_recipes(  # it may be a part (as an authority)
                recipe, recipe_entries(records), frozenset(buy), me)
        return self._plan(recipe, quantity, due_us, name, buy, fetched, records)

    def _plan(self, recipe: str, quantity: str, due_us: int, name: str | None,
              buy: Sequence[str], fetched: Sequence[Record],
              held: list[Record] | None = None) -> dict[str, Any]:
        """Write the plan from the records this home holds (`held`, else read now) and
        those `fetched` from the network (their recipes each on its own: a malformed one
        is left out, as network_book leaves it)."""
        from zomes.accounting.dataset import Dataset
        from zomes.accounting.footprint import vector_json
        from zomes.valueflows.planning import RecipeBook
        from zomes.valueflows.recipe_commons import _entries as fetched_entries
        from zomes.valueflows.recipes import commit_plan, recipe_entries

        if held is None:
            with self._agent() as agent:
                held = self._held_records(agent)
        entries = recipe_entries(held)
        entries.update(fetched_entries(fetched))
        data = Dataset()
        data.add_records([*held, *fetched])
        book = RecipeBook.of(entries)
        with self._ledger() as led:
            me = str(led.agent.agent_id)
            draft, made = led.commit(lambda s, v: commit_plan(
                s, book, recipe, quantity, due_us, me, name, buy, data.spec_footprints()))
        made["footprint"] = vector_json(draft.footprint)
        return made

    def recipes(self, spec: str | None = None, network: bool = False) -> list[dict[str, Any]]:
        """The recipes this home holds (its chain's and those of the chains it holds), or
        with `network` those the network lists (needs the node); `spec`: only those making it."""
        from zomes.valueflows.coordinator import field_address
        from zomes.valueflows.planning import RecipeBook
        from zomes.valueflows.recipes import list_recipes, recipe_entries

        wanted = field_address(spec, "spec")
        if network:
            return self._network_recipe_list(wanted)
        with self._agent() as agent:
            records = self._held_records(agent)
        authors = {str(r.address): str(r.action.author) for r in records}
        rows = list_recipes(RecipeBook.of(recipe_entries(records)), authors)
        return [r for r in rows if wanted is None or r["primaryOutput"] == wanted]

    def _network_recipe_list(self, spec: str | None) -> list[dict[str, Any]]:
        raise self._no_node()

    def chains(self, agents: Sequence[str]) -> Dataset:
        """The chains of `agents`, fetched from the network by the running node."""
        raise self._no_node()

    def _network_recipes(self, recipe: str, known: dict[str, VfEntry], buy: frozenset[str],
                         me: str) -> tuple[dict[str, VfEntry], list[Record]]:
        """The recipe book for another member's recipe: without a node, what is known."""
        return known, []

    def surplus(self) -> list[dict[str, Any]]:
        """What this agent holds or will produce that has no planned use (byproducts and
        waste on hand, outputs nothing of its own uses), as offer rows for matching."""
        from zomes.valueflows.surplus import surplus_rows

        with self._ledger() as led:
            me, records = str(led.agent.agent_id), list(led.agent.store.records())
            return surplus_rows(me, records, led.inventory())

    def agree(self, agreement: dict[str, Any], to: str, wait_s: float) -> dict[str, Any]:
        raise self._no_node()

    def proposals(self, purpose: str, spec: str | None = None, label: str | None = None,
                  location: str | None = None, at_us: int | None = None,
                  author: str | None = None) -> list[dict[str, Any]]:
        """The network's open proposals of `purpose` under the base of `spec` or `label`,
        filtered (offers.list_proposals): the running node reads them (needs the node)."""
        raise self._no_node()

    def agreements(self) -> list[dict[str, Any]]:
        """The countersigned agreements on this home's chain, with their clauses."""
        from zomes.valueflows.agreement_hook import list_agreements

        with self._agent() as agent:
            return list_agreements(agent.store.records())


class NodeCommons(HomeCommons):
    """SocketClient's planning commons: what the network holds, through the running node."""

    if TYPE_CHECKING:  # (SocketClient's own)
        def _call(self, method: str, timeout: float = 60.0, **params: Any) -> Any: ...
        def get(self, address: str) -> Any: ...  # (a node.client.Found)
        def links(self, base: str, link_type: str | None = None, tag_prefix: str = "",
                  include_deleted: bool = False, after: str | None = None,
                  limit: int = 1000) -> dict[str, Any]: ...

    def _recipe_reads(self) -> tuple[LinksPage, Fetch]:
        """A page of `recipe` links from a base, a record: asked of the network."""
        from zomes.valueflows.recipe_links import RECIPE_LINK

        return (lambda base, after: self.links(base, RECIPE_LINK, after=after),
                lambda address: self.get(address).view)

    def _network_recipe_list(self, spec: str | None) -> list[dict[str, Any]]:
        """The recipes listed under `spec`'s base (or every recipe's), from its authorities."""
        from zomes.valueflows.recipe_commons import list_network_recipes

        return list_network_recipes(spec, *self._recipe_reads())

    def _network_recipes(self, recipe: str, known: dict[str, VfEntry], buy: frozenset[str],
                         me: str) -> tuple[dict[str, VfEntry], list[Record]]:
        """Another member's recipe fetched with its author's chain (and the chains of the
        authors of the recipes it depends on), and the recipes the network lists for the
        inputs it consumes that none known makes (recipe_commons)."""
        from zomes.valueflows.recipe_commons import network_book

        links_page, fetch = self._recipe_reads()
        return network_book(recipe, known, fetch, links_page, self._chain_records, buy,
                            whole=frozenset({me}))

    def _chain_records(self, agents: Sequence[str]) -> list[Record]:
        """The records of `agents`' chains, each from its authorities (a few per call)."""
        from node.gather import BATCH
        from node.runtime.reports import unpack

        wanted, records = list(dict.fromkeys(agents)), []
        for start in range(0, len(wanted), BATCH):
            answer = self._call("chains", timeout=180.0, agents=wanted[start:start + BATCH])
            records += [unpack(p) for packed in answer["chains"].values() for p in packed]
        return records

    def chains(self, agents: Sequence[str]) -> Dataset:
        from zomes.accounting.dataset import Dataset

        data = Dataset()
        data.add_records(self._chain_records(agents))
        return data

    def proposals(self, purpose: str, spec: str | None = None, label: str | None = None,
                  location: str | None = None, at_us: int | None = None,
                  author: str | None = None) -> list[dict[str, Any]]:
        """One socket request: the node reads the links, records and intents itself."""
        rows: list[dict[str, Any]] = self._call(
            "proposals", purpose=purpose, spec=spec, label=label, location=location,
            at_us=at_us, author=author)
        return rows

    def agree(self, agreement: dict[str, Any], to: str, wait_s: float) -> dict[str, Any]:
        """Propose a countersigned agreement to `to`: the session as proposed."""
        session: dict[str, Any] = self._call("cs_agree", agreement=agreement, to=to,
                                             wait_s=wait_s)
        return session
