"""JSON-LD documents as other ValueFlows systems write them, expanded by pyld into node
objects whose VF terms are in one namespace (jsonld.VF), for jsonld_import.py to read.

pyld does the JSON-LD 1.1 expansion (inline contexts, prefixes, @vocab, type coercion,
nested nodes, @graph); its document loader refuses every URL, so a remote context is one
clear error and reading a document stays pure (no network). Both VF namespaces, https (the
ontology's, which coledger writes) and http (the spec's examples), are read as one.
Values of object properties that arrive as plain strings (a context without `@type: @id`)
are taken as IRIs by the reader, which knows which properties name things.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from pyld import jsonld  # type: ignore[import-untyped]

from zomes.accounting.jsonld import EXTENSIONS, SAME_AS, VF, MalformedDocument

VF_HTTP: Final = "http://w3id.org/valueflows/ont/vf#"
OM2_PROPERTIES: Final = {
    # OM 2.0's own measure properties, which some VF examples use inside a vf:Measure
    "http://www.ontology-of-units-of-measure.org/resource/om-2/hasUnit": VF + "hasUnit",
    "http://www.ontology-of-units-of-measure.org/resource/om-2/hasNumericalValue":
        VF + "hasNumericalValue",
}

# Every term of the VF 1.0 ontology (classes, properties, individuals: local names), as
# zomes/valueflows/valueflows-1.0.ttl has them (a test reads the TTL and compares).
_TERMS_TEXT: Final = """
    AccountableEffect AccountingEffect Action ActionDomain Agent Agreement AgreementBundle
    BatchLotRecord Claim ClassifiedAsDomain Commitment ContainedEffect CreateResource
    CreatedDomain DueDomain EcologicalAgent EconomicEvent EconomicResource
    EffortQuantityDomain EventQuantity FinishedDomain HasBeginningDomain HasEndDomain
    HasInputRange HasOutputRange HasPointInTimeDomain ImageDomain ImageListDomain
    InputOfDomain InputOutput Intent LabelDomain LocationEffect Measure NameDomain
    NoteDomain OnhandEffect Organization OutputOfDomain Person Plan PlanIncludesRange
    PlannedWithinDomain Process ProcessSpecification Proposal ProposalList ProposalPurpose
    ProposedToDomain ProviderDomain ReceiverDomain Recipe RecipeExchange RecipeFlow
    RecipeProcess ResourceClassifiedAsDomain ResourceConformsToDomain
    ResourceInventoriedAsDomain ResourceQuantityDomain ResourceSpecification
    SatisfiesDomain SpatialThing StageDomain StageEffect StateDomain StateEffect Unit
    accept accountableEffect accountingEffect accountingQuantity action alt
    availableQuantity basedOn batchLotCode both bundledIn bundles cite classifiedAs
    clauseOf combine conformsTo consume containedEffect containedIn contains copy corrects
    createResource created currentCurrencyLocation currentLocation currentVirtualLocation
    decrement decrementIncrement defaultUnitOfEffort defaultUnitOfResource deliverService
    dropoff due effort effortQuantity eligibleLocation eventQuantity expirationDate
    finished fulfills hasBeginning hasDetailedGeometry hasDuration hasEnd
    hasIndependentDemand hasInput hasNumericalValue hasOutput hasPointInTime
    hasRecipeInput hasRecipeOutput hasUnit image imageList inScopeOf increment incrementTo
    independentDemandOf input inputOf inputOutput label lat listedIn lists locationEffect
    long lower mappableAddress mediumOfExchange minimumQuantity modify move name new
    notApplicable note ofBatchLot offer omUnitIdentifier onhandEffect onhandQuantity
    optional optionalTo output outputInput outputOf pairsWith pickup planIncludes
    plannedWithin primaryAccountable primaryLocation primaryOutput processClassifiedAs
    processConformsTo produce proposedTo provider publishes purpose raise realizationOf
    realizes realizesReciprocal receiver recipeClauseOf recipeIncludes recipeInputOf
    recipeOutputOf recipeReciprocalClauseOf recipeStipulates recipeStipulatesReciprocal
    reciprocal reciprocalClauseOf reciprocalRealizationOf remove request resource
    resourceClassifiedAs resourceConformsTo resourceInventoriedAs resourceQuantity
    satisfies separate settles stage stageEffect state stateEffect stipulates
    stipulatesReciprocal substitutable symbol toLocation toResourceInventoriedAs
    trackingIdentifier transfer transferAllRights transferCustody triggeredBy unitBased
    unitOfEffort update updateTo use work
"""
VF_TERMS: Final = frozenset(_TERMS_TEXT.split())


class _RemoteContext(Exception):
    """A document asked for a remote context (never fetched)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def _refuse(url: str, options: Mapping[str, Any]) -> Any:
    """pyld's document loader: every URL refused (reading a document is pure)."""
    raise _RemoteContext(url)


def _remote(error: BaseException) -> str | None:
    """The URL a pyld error was about, when it is our refusal of a remote context."""
    seen: BaseException | None = error
    for _ in range(20):
        if seen is None:
            return None
        if isinstance(seen, _RemoteContext):
            return seen.url
        details = getattr(seen, "details", None)
        if isinstance(details, dict) and isinstance(details.get("url"), str) \
                and "context" in str(getattr(seen, "code", "")):
            return str(details["url"])
        seen = getattr(seen, "cause", None) or seen.__cause__ or seen.__context__
    return None


def expand(document: Any) -> tuple[list[Any], Callable[[str], str]]:
    """The document expanded by pyld (no remote context), and how its top-level context
    expands a string as an IRI (a compact IRI `mfg:desk` given as a plain string, where the
    context does not say `@type: @id`); MalformedDocument (one line)."""
    if not isinstance(document, dict | list):
        raise MalformedDocument("a JSON-LD document is an object or an array")
    options = {"documentLoader": _refuse}
    try:
        expanded = jsonld.expand(document, options)
        iri_of = _iri_expander(document, options)
    except (jsonld.JsonLdError, _RemoteContext) as error:
        url = _remote(error)
        if url is not None:
            raise MalformedDocument(
                f"remote @context {url} is not fetched: inline the context in the document"
            ) from None
        code = getattr(error, "code", None) or type(error).__name__
        raise MalformedDocument(f"not valid JSON-LD: {code}") from None
    except Exception as error:  # pyld's own, on input it did not foresee: never ours to raise
        raise MalformedDocument(f"not valid JSON-LD: {type(error).__name__}") from None
    return (_normal(expanded) if isinstance(expanded, list) else []), iri_of


def _iri_expander(document: Any, options: dict[str, Any]) -> Callable[[str], str]:
    """A string expanded as an IRI by the document's top-level context (prefixes)."""
    local = document.get("@context") if isinstance(document, dict) else None
    if local is None:
        return vf_iri
    processor = jsonld.JsonLdProcessor()
    active = processor.process_context(processor._get_initial_context(options), local, options)

    def iri_of(text: str) -> str:
        try:
            expanded = processor._expand_iri(active, text, base=None, vocab=False)
        except (jsonld.JsonLdError, TypeError, ValueError, KeyError):
            return text
        return vf_iri(expanded) if isinstance(expanded, str) else text

    return iri_of


def vf_iri(iri: str) -> str:
    """An IRI with the http VF namespace written as the https one (coledger's)."""
    return VF + iri[len(VF_HTTP):] if iri.startswith(VF_HTTP) else iri


def _normal(value: Any) -> Any:
    """Expanded JSON-LD with VF IRIs in one namespace (keys, types, @id and @vocab values)
    and OM's measure properties as VF's."""
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "@value":
            out[key] = item
        elif key.startswith("@") and key not in ("@type", "@id"):
            out[key] = _normal(item)  # @graph, @list, @set, @language, @index...
        elif key == "@type":
            out[key] = [vf_iri(t) for t in item] if isinstance(item, list) else vf_iri(item)
        elif key == "@id":
            out[key] = vf_iri(item) if isinstance(item, str) else item
        else:
            name = OM2_PROPERTIES.get(key, vf_iri(key))
            out.setdefault(name, []).extend(_as_list(_normal(item)))
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def node_objects(expanded: list[Any]) -> Iterator[dict[str, Any]]:
    """Every node object of an expanded document, nested ones and those of @graph and
    @list included, in document order (values are skipped)."""
    stack: list[Any] = list(reversed(expanded))
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict) and "@value" not in item:
            if "@list" in item or "@set" in item:
                stack.extend(reversed(_as_list(item.get("@list", item.get("@set")))))
                continue
            if set(item) - {"@graph", "@id", "@context"} or "@graph" not in item:
                yield item
            children = [v for k, v in item.items() if not k.startswith("@") or k == "@graph"]
            for child in reversed(children):
                stack.extend(reversed(_as_list(child)))


def is_vf(iri: str) -> bool:
    """Whether an expanded property or class is a VF 1.0 term."""
    return iri.startswith(VF) and iri[len(VF):] in VF_TERMS


def is_known(iri: str) -> bool:
    """VF 1.0 terms, coledger's extensions and owl:sameAs: what the reader understands."""
    return is_vf(iri) or iri.startswith(EXTENSIONS) or iri == SAME_AS
