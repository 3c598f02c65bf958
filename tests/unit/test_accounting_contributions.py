"""Contributive accounting: value equations worked out by hand on the bread chain, rounding
to the cent, and the property that shares always add up exactly to the income."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from zomes.accounting.common import AccountingError
from zomes.accounting.contributions import (
    Bucket,
    Distribution,
    Rate,
    Rule,
    ValueEquation,
    distribute,
    split_income,
)
from zomes.accounting.testing import Chain, agent_id, bread_chain


def share_out(
    chain: Chain, equation: ValueEquation, income: str, output: str = "bread"
) -> Distribution:
    return distribute(
        equation,
        output_resource=chain.at(output),
        income=Decimal(income),
        currency="EUR",
        index=chain.index(),
        events=chain.events,
        processes=chain.processes,
        resources=chain.resources,
        authors=chain.authors,
    )


def shares(distribution: Distribution, chain: Chain) -> dict[str, str]:
    names = {**chain.names, agent_id("commons"): "Commons"}
    return {names[s.agent]: f"{s.share:.2f}" for s in distribution.shares}


WORK: dict[str, Any] = {"action": "work", "rate": "20", "per": "hour"}


def test_straight_buckets_and_a_fixed_recipient() -> None:
    chain = bread_chain()
    equation = ValueEquation(
        name="bakery coop",
        buckets=(
            Bucket(name="commons", percentage="10", recipient=agent_id("commons")),
            Bucket(
                name="labour",
                percentage="90",
                rules=(Rule(**WORK, rates=(Rate(rate="30", classified_as="baking"),)),),
            ),
        ),
    )
    result = share_out(chain, equation, "1000.00")
    # ana 10 h × 20, ben 8 h × 20, cleo 20 h × 30 (baking): 200 + 160 + 600 = 960
    assert shares(result, chain) == {
        "Cleo": "562.50", "Ana": "187.50", "Ben": "150.00", "Commons": "100.00",
    }  # fmt: skip
    cleo = next(s for s in result.shares if s.agent == agent_id("cleo"))
    assert cleo.score == 600
    assert [c.event for c in cleo.contributions] == [chain.at("cleo bakes")]
    assert cleo.contributions[0].recorded_by == agent_id("bakery")


def test_remaining_bucket_and_the_rest_and_a_negative_remainder() -> None:
    chain = bread_chain()
    materials = Rule(
        action="consume",
        rate="0.01",
        per="kilogram",
        rates=(
            Rate(rate="0.5", conforms_to=chain.spec_at("electricity"), per="kilowattHour"),
            Rate(rate="1", conforms_to=chain.spec_at("diesel"), per="litre"),
            Rate(rate="0", conforms_to=chain.spec_at("water"), per="cubicMetre"),
        ),
    )
    equation = ValueEquation(
        name="chain",
        buckets=(
            Bucket(
                name="labour", percentage="50", rules=(Rule(action="work", rate="1", per="hour"),)
            ),
            Bucket(name="materials", percentage="50", behaviour="remaining", rules=(materials,)),
        ),
    )
    result = share_out(chain, equation, "200.00")
    # labour 100: ana 10, ben 8, cleo 20 of 38; materials (200 - 100) × 50 % = 50: farm 12
    # (diesel), mill 30 (wheat 10 + electricity 20), bakery 8 (flour); the rest 50 by all
    # scores (88). Rounded: 32.00 + 25.60 + 64.00 + 18.82 + 47.05 + 12.55 = 200.02, so the
    # largest share gives back two cents.
    assert shares(result, chain) == {
        "Cleo": "63.98", "Mill": "47.05", "Ana": "32.00", "Ben": "25.60", "Farm": "18.82",
        "Bakery": "12.55",
    }  # fmt: skip
    amounts = {b.name: b.amount for b in result.buckets}
    assert amounts == {"labour": 100, "materials": 50, "(rest)": 50}
    assert sum(s.share for s in result.shares) == Decimal("200.00")


def test_citations_score_points() -> None:
    chain = bread_chain()
    equation = ValueEquation(
        name="with credit for the recipe",
        buckets=(
            Bucket(name="cites", percentage="10", rules=(Rule(action="cite", rate="5"),)),
            Bucket(
                name="labour", percentage="90", rules=(Rule(action="work", rate="1", per="hour"),)
            ),
        ),
    )
    result = share_out(chain, equation, "100.00")
    assert shares(result, chain) == {"Cleo": "47.37", "Ana": "33.68", "Ben": "18.95"}
    document = result.to_json()
    assert document["income"] == "100.00" and document["currency"] == "EUR"
    ana = next(a for a in document["agents"] if a["agent"] == agent_id("ana"))
    assert {c["bucket"] for c in ana["contributions"]} == {"cites", "labour"}
    assert ana["score"] == "15"  # 5 points + 10 hours


def test_only_the_trace_of_the_output_counts() -> None:
    chain = bread_chain()
    equation = ValueEquation(
        name="labour only",
        buckets=(Bucket(name="labour", percentage="100", rules=(Rule(**WORK),)),),
    )
    result = share_out(chain, equation, "10.00", output="farm wheat")
    assert shares(result, chain) == {"Ana": "10.00"}


def test_rounding_gives_the_remainder_to_the_largest_share() -> None:
    a, b, c = sorted(agent_id(n) for n in ("x", "y", "z"))
    assert split_income(Decimal("100.00"), {b: Decimal(1), a: Decimal(1), c: Decimal(1)}) == {
        a: Decimal("33.34"), b: Decimal("33.33"), c: Decimal("33.33"),
    }  # fmt: skip
    # each 0.005 rounds up to 0.01: four cents for two; the largest share cannot give two
    # back without going negative, so the cents come back one by one, largest (then smallest
    # id) first
    assert split_income(Decimal("0.02"), {n: Decimal(1) for n in "abcd"}) == {
        "a": Decimal("0"), "b": Decimal("0"), "c": Decimal("0.01"), "d": Decimal("0.01"),
    }  # fmt: skip


def test_equations_check_themselves_and_round_trip() -> None:
    with pytest.raises(ValidationError, match="take 101 % of the income, more than all"):
        ValueEquation(
            name="x",
            buckets=(
                Bucket(name="a", percentage="60", recipient=agent_id("a")),
                Bucket(name="b", percentage="41", recipient=agent_id("b")),
            ),
        )
    # `remaining` buckets take a share of what is left: 30 % + 100 % of the rest is all of it
    everything = ValueEquation(name="y", buckets=(
        Bucket(name="a", percentage="30", recipient=agent_id("a")),
        Bucket(name="b", percentage="100", behaviour="remaining", recipient=agent_id("b")),
    ))
    assert len(everything.buckets) == 2
    with pytest.raises(ValidationError, match="more than all"):  # a straight bucket after it
        ValueEquation(name="z", buckets=(*everything.buckets,
                                         Bucket(name="c", percentage="1", recipient=agent_id("c"))))
    with pytest.raises(ValidationError, match="either a recipient or rules"):
        Bucket(name="a", percentage="10")
    with pytest.raises(ValidationError, match="needs `per`"):
        Rule(action="work", rate="1")
    with pytest.raises(ValidationError):
        Bucket(name="a", percentage="10", behaviour="sideways", recipient=agent_id("a"))
    equation = ValueEquation(
        name="e",
        buckets=(
            Bucket(name="labour", percentage="75.5", behaviour="remaining", rules=(Rule(**WORK),)),
        ),
    )
    content = equation.to_content()
    assert content["buckets"][0]["rules"][0] == {"action": "work", "rate": "20", "per": "hour"}
    assert ValueEquation.from_content(content) == equation


def test_income_that_cannot_be_shared_is_refused() -> None:
    chain = bread_chain()
    equation = ValueEquation(
        name="nobody",
        buckets=(
            Bucket(name="use", percentage="100", rules=(Rule(action="use", rate="1", per="hour"),)),
        ),
    )
    with pytest.raises(AccountingError, match="nobody scored"):
        share_out(chain, equation, "10.00")
    with pytest.raises(AccountingError, match="whole number of cents"):
        share_out(chain, equation, "10.001")


@given(
    st.lists(st.decimals(min_value=0, max_value=10**6, places=3), min_size=1, max_size=12),
    st.integers(min_value=0, max_value=10**9),
)
def test_split_shares_sum_exactly_and_are_never_negative(scores: list[Decimal], cents: int) -> None:
    if not any(scores):
        scores = [*scores, Decimal(1)]
    income = Decimal(cents).scaleb(-2)
    result = split_income(income, {f"agent {i}": s for i, s in enumerate(scores)})
    assert sum(result.values(), Decimal(0)) == income
    assert all(share >= 0 for share in result.values())
    assert all(share == share.quantize(Decimal("0.01")) for share in result.values())


@given(
    st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=8),
    st.integers(min_value=0, max_value=10**8),
    st.sampled_from(["straight", "remaining"]),
)
def test_distributed_shares_sum_exactly_to_the_income(
    minutes: list[int], cents: int, behaviour: str
) -> None:
    chain = Chain()
    chain.resource("output", "thing", "one")
    chain.process("work")
    for i, spent in enumerate([*minutes, 1]):
        chain.event(f"work {i}", "work", f"worker {i}", "coop", effort_quantity=(spent, "min"),
                    input_of="work")  # fmt: skip
    chain.event("make", "produce", "coop", resource_quantity=(1, "one"),
                resource_inventoried_as="output", output_of="work")  # fmt: skip
    equation = ValueEquation(
        name="property",
        buckets=(
            Bucket(name="fund", percentage="7.5", recipient=agent_id("fund")),
            Bucket(
                name="labour",
                percentage="80",
                behaviour=behaviour,
                rules=(Rule(action="work", rate="1.7", per="hour"),),
            ),  # fmt: skip
        ),
    )
    result = share_out(chain, equation, str(Decimal(cents).scaleb(-2)), output="output")
    assert sum(s.share for s in result.shares) == Decimal(cents).scaleb(-2)
    assert all(s.share >= 0 for s in result.shares)


def test_an_event_a_rule_cannot_rate_is_skipped_with_why_not_fatal() -> None:
    chain = bread_chain()
    labour_only = ValueEquation(
        name="labour", buckets=(Bucket(name="labour", percentage="100", rules=(Rule(**WORK),)),))
    odd = ValueEquation(
        name="labour, and consumption rated per hour",
        buckets=(Bucket(name="labour", percentage="100", rules=(
            Rule(**WORK), Rule(action="consume", rate="1", per="hour"))),),
    )
    result = share_out(chain, odd, "100.00")
    assert shares(result, chain) == shares(share_out(chain, labour_only, "100.00"), chain)
    assert result.skipped and all(s.action == "consume" for s in result.skipped)
    assert all("rates it per hour" in s.reason for s in result.skipped)
    assert result.to_json()["skipped"][0]["event"] == result.skipped[0].event


def test_income_is_money() -> None:
    from zomes.accounting.reports import parse_income

    assert parse_income("1000 EUR") == (Decimal("1000"), "EUR")
    assert parse_income("12.50 CHF") == (Decimal("12.50"), "CHF")  # no unit for it: money
    for income in ("1000 kg", "3 h", "10 kWh"):
        with pytest.raises(AccountingError, match="is not money"):
            parse_income(income)
