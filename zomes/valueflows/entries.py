"""The ValueFlows entry types: frozen pydantic models whose encoded field names are VF's.

References to other entries are addresses (base32 CIDv1 strings, `bafy...`); agents are
libp2p peer ids (`12D3KooW...`); times are integer microseconds since the epoch; quantities
are `Measure`s. `to_content()` gives the JSON/CBOR-safe form that is signed and hashed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

from zomes.valueflows.actions import ActionName
from zomes.valueflows.units import DECIMAL_PATTERN, UNITS, Measure

ADDRESS_PATTERN: Final = r"^b[a-z2-7]{9,127}$"
AGENT_PATTERN: Final = r"^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$"
PARTY_PATTERN: Final = r"^(12D3KooW[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{9,127})$"
"""An event's provider or receiver: a member's agent id, or the address of an Agent entry
of the author's chain (an external agent: no member of the network)."""
IRI_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]{1,2000}$"


def _known_unit(unit: str) -> str:
    if unit not in UNITS:
        raise ValueError(f"{unit!r} is not a canonical unit id (one of {', '.join(UNITS)})")
    return unit


def _positive_mass(measure: Measure) -> Measure:
    if UNITS[measure.has_unit].dimension != "mass" or Decimal(measure.has_numerical_value) <= 0:
        raise ValueError(f"a mass above zero (kg, g, t...), not {measure.has_numerical_value} "
                         f"{measure.has_unit}")
    return measure


Address = Annotated[str, StringConstraints(strict=True, pattern=ADDRESS_PATTERN)]
AgentId = Annotated[str, StringConstraints(strict=True, pattern=AGENT_PATTERN)]
Party = Annotated[str, StringConstraints(strict=True, pattern=PARTY_PATTERN)]
Iri = Annotated[str, StringConstraints(strict=True, pattern=IRI_PATTERN)]
Name = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=500)]
Text = Annotated[str, StringConstraints(strict=True, max_length=10_000)]
Label = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=500)]
DecimalText = Annotated[str, StringConstraints(strict=True, pattern=DECIMAL_PATTERN)]
UnitId = Annotated[str, Strict(), AfterValidator(_known_unit)]
Timestamp = Annotated[int, Strict(), Field(ge=0)]  # microseconds since the epoch
Mass = Annotated[Measure, AfterValidator(_positive_mass)]


class VfEntry(BaseModel):
    """Base of every entry type: frozen, unknown fields rejected, VF camelCase when encoded."""

    # defer_build: a model's validator is built on first use, not at import (CLI latency).
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        defer_build=True,
    )

    def to_content(self) -> dict[str, Any]:
        """The encodable form: VF names, str/int/bool/list/dict only, defaults omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)

    @classmethod
    def from_content(cls, content: Mapping[str, Any]) -> Self:
        """Parse the encodable form; raises pydantic.ValidationError when malformed."""
        return cls.model_validate(content)


# Knowledge layer


class ResourceSpecification(VfEntry):
    """A kind of resource. `allowNegative` (a coledger extension) lets its resources go below
    zero, as mutual-credit accounts do; `massPerUnit` (one too) is the mass of one
    `defaultUnitOfResource` of it, e.g. of a loaf counted in pieces (PACT declares it)."""

    name: Name
    default_unit_of_resource: UnitId | None = None
    default_unit_of_effort: UnitId | None = None
    resource_classified_as: tuple[Label, ...] = ()
    substitutable: StrictBool = False
    medium_of_exchange: StrictBool = False
    image: Text | None = None
    note: Text | None = None
    allow_negative: StrictBool = False
    mass_per_unit: Mass | None = None  # (meaningless without defaultUnitOfResource)
    same_as: Iri | None = None


class ProcessSpecification(VfEntry):
    """A kind of process; a resource's stage is the process specification it came out of."""

    name: Name
    image: Text | None = None
    note: Text | None = None


# Knowledge layer: recipes (VF 1.0 has no RecipeResource: ResourceSpecification is one)


class Recipe(VfEntry):
    """A design: the recipe processes that make `primaryOutput` (VF's Recipe, "testing")."""

    name: Name
    primary_output: Address | None = None
    recipe_includes: tuple[Address, ...] = ()
    note: Text | None = None


class RecipeProcess(VfEntry):
    """A kind of process in a recipe; `hasDuration` (a time) schedules it in a plan."""

    name: Name
    has_duration: Measure | None = None
    process_conforms_to: Address | None = None
    process_classified_as: tuple[Label, ...] = ()
    image: Text | None = None
    note: Text | None = None


class RecipeExchange(VfEntry):
    """An exchange in a recipe (buying an input, say): its flows are its clauses."""

    name: Name | None = None
    note: Text | None = None


class RecipeFlow(VfEntry):
    """An input or output of a recipe process, and/or a clause of a recipe exchange: what
    kind of resource (or effort), how much, as the recipe process is written."""

    action: ActionName
    recipe_input_of: Address | None = None
    recipe_output_of: Address | None = None
    recipe_clause_of: Address | None = None
    recipe_reciprocal_clause_of: Address | None = None
    resource_conforms_to: Address | None = None
    resource_classified_as: tuple[Label, ...] = ()
    resource_quantity: Measure | None = None
    effort_quantity: Measure | None = None
    stage: Address | None = None
    state: Label | None = None
    note: Text | None = None


RECIPE_TYPES: Final = (Recipe, RecipeProcess, RecipeExchange, RecipeFlow)


# Observation layer


class Agent(VfEntry):
    """A person, organization or ecological agent's profile. One with `sameAs` (the IRI
another system names it by) is an external agent: no member of the network, the other
party of events its author records alone (events name it by this entry's address)."""

    name: Name
    agent_type: Literal["Person", "Organization", "EcologicalAgent"]
    primary_location: Label | None = None
    classified_as: tuple[Label, ...] = ()
    image: Text | None = None
    note: Text | None = None
    same_as: Iri | None = None


class SpatialThing(VfEntry):
    """A place; coordinates are decimal strings (WGS84)."""

    name: Name | None = None
    mappable_address: Text | None = None
    lat: DecimalText | None = None
    long: DecimalText | None = None
    alt: DecimalText | None = None
    note: Text | None = None


class EconomicResource(VfEntry):
    """An inventoried resource. Its quantities, accountable agent, location, container, stage
    and state are derived from events (resources.py); the entry fixes what does not change."""

    name: Name
    unit_of_resource: UnitId
    unit_of_effort: UnitId | None = None
    conforms_to: Address | None = None
    tracking_identifier: Label | None = None
    current_location: Label | None = None  # where it is when first created
    classified_as: tuple[Label, ...] = ()
    image: Text | None = None
    note: Text | None = None
    same_as: Iri | None = None


class EconomicEvent(VfEntry):
    """An observed economic flow. A `corrects` event has the corrected event's action and
    negative quantities: it takes back (part of) what the corrected event recorded. Its
    provider or receiver may be an external agent (an address: see Agent), never both."""

    action: ActionName
    provider: Party
    receiver: Party
    resource_inventoried_as: Address | None = None
    to_resource_inventoried_as: Address | None = None
    resource_conforms_to: Address | None = None
    resource_classified_as: tuple[Label, ...] = ()
    resource_quantity: Measure | None = None
    effort_quantity: Measure | None = None
    input_of: Address | None = None
    output_of: Address | None = None
    has_beginning: Timestamp | None = None
    has_end: Timestamp | None = None
    has_point_in_time: Timestamp | None = None
    at_location: Label | None = None
    to_location: Label | None = None
    stage: Address | None = None
    state: Label | None = None
    corrects: Address | None = None
    realization_of: Address | None = None
    reciprocal_realization_of: Address | None = None
    fulfills: Address | None = None
    satisfies: Address | None = None
    settles: Address | None = None
    image: Text | None = None
    note: Text | None = None


class Process(VfEntry):
    """An activity that transforms inputs into outputs; `finished` closes it to new events."""

    name: Name
    based_on: Address | None = None
    has_beginning: Timestamp | None = None
    has_end: Timestamp | None = None
    finished: StrictBool = False
    classified_as: tuple[Label, ...] = ()
    in_scope_of: tuple[AgentId, ...] = ()
    planned_within: Address | None = None
    note: Text | None = None
    same_as: Iri | None = None


# Planning layer


class Plan(VfEntry):
    """A set of processes, commitments and intents aimed at something."""

    name: Name
    due: Timestamp | None = None
    created: Timestamp | None = None
    note: Text | None = None


class PlannedFlow(VfEntry):
    """What an intent and a commitment both say of a flow to come: its action, its agents,
    the resource and the quantities (the fields each declares after these keep their order)."""

    action: ActionName
    provider: AgentId | None = None
    receiver: AgentId | None = None
    resource_inventoried_as: Address | None = None
    resource_conforms_to: Address | None = None
    resource_classified_as: tuple[Label, ...] = ()
    resource_quantity: Measure | None = None
    effort_quantity: Measure | None = None


class Intent(PlannedFlow):
    """A flow one agent wants to happen: an offer or a request, not yet agreed."""

    available_quantity: Measure | None = None
    minimum_quantity: Measure | None = None
    input_of: Address | None = None
    output_of: Address | None = None
    has_beginning: Timestamp | None = None
    has_end: Timestamp | None = None
    has_point_in_time: Timestamp | None = None
    due: Timestamp | None = None
    at_location: Label | None = None
    stage: Address | None = None
    state: Label | None = None
    finished: StrictBool = False
    planned_within: Address | None = None
    image: Text | None = None
    note: Text | None = None


class Commitment(PlannedFlow):
    """A flow agents have agreed will happen; economic events fulfill it."""

    input_of: Address | None = None
    output_of: Address | None = None
    has_beginning: Timestamp | None = None
    has_end: Timestamp | None = None
    has_point_in_time: Timestamp | None = None
    due: Timestamp | None = None
    created: Timestamp | None = None
    at_location: Label | None = None
    stage: Address | None = None
    state: Label | None = None
    finished: StrictBool = False
    satisfies: Address | None = None
    clause_of: Address | None = None
    reciprocal_clause_of: Address | None = None
    independent_demand_of: Address | None = None
    planned_within: Address | None = None
    note: Text | None = None


class Agreement(VfEntry):
    """What agents agreed; its commitments are clauses, its events realize it. A
    countersigned agreement holds its clauses inline (`clauses`: each a Commitment's full
    content, addressed as that Commitment entry would be: zomes/valueflows/agreements.py)."""

    name: Name | None = None
    clauses: tuple[Commitment, ...] = ()
    created: Timestamp | None = None
    bundled_in: Address | None = None
    note: Text | None = None


class Proposal(VfEntry):
    """Published intents (an offer or a request) with their reciprocal intents."""

    name: Name | None = None
    purpose: Literal["offer", "request"] | None = None
    publishes: tuple[Address, ...] = ()
    reciprocal: tuple[Address, ...] = ()
    proposed_to: tuple[AgentId, ...] = ()
    unit_based: StrictBool = False
    eligible_location: Label | None = None
    has_beginning: Timestamp | None = None
    has_end: Timestamp | None = None
    created: Timestamp | None = None
    listed_in: Address | None = None
    note: Text | None = None


class Claim(VfEntry):
    """A flow the receiver can expect in return for an economic event that triggered it."""

    action: ActionName
    provider: AgentId
    receiver: AgentId
    triggered_by: Address
    resource_conforms_to: Address | None = None
    resource_classified_as: tuple[Label, ...] = ()
    resource_quantity: Measure | None = None
    effort_quantity: Measure | None = None
    due: Timestamp | None = None
    created: Timestamp | None = None
    finished: StrictBool = False
    note: Text | None = None


def is_member(party: str) -> bool:
    """Whether an event's provider or receiver is a member's agent id (not an external
    agent's address)."""
    return party.startswith("12D3KooW")


def external_party(event: EconomicEvent) -> str | None:
    """The external agent an event names as provider or receiver (its Agent entry's
    address), if any."""
    for party in (event.provider, event.receiver):
        if not is_member(party):
            return party
    return None


ENTRY_TYPES: Final[dict[str, type[VfEntry]]] = {
    cls.__name__: cls
    for cls in (
        Agent,
        ResourceSpecification,
        ProcessSpecification,
        SpatialThing,
        EconomicResource,
        EconomicEvent,
        Process,
        Plan,
        Intent,
        Commitment,
        Agreement,
        Proposal,
        Claim,
        *RECIPE_TYPES,
    )
}
