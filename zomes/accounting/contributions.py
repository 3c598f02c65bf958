"""Contributive accounting: share an output's income among those who contributed to it.

A value equation (Sensorica's benefit redistribution algorithm) is an ordered list of
buckets. Each bucket takes a percentage of the income — `straight`: of the whole income,
`remaining`: of what earlier buckets left — and pays it either to a fixed recipient or to
contributors in proportion to their scores under the bucket's rules (work: hours × the
rate for the skill; use: hours × rate; cite: points per citation; consume: quantity × unit
value; deliverService: quantity × rate). Contributions are the scored input events found by
tracing the output back through its processes; the provider of an input is its contributor.
What no bucket pays (percentages below 100, buckets nobody scored in) is shared by everyone's
total score. Shares are exact until the end, then rounded half-up to the cent, and the
rounding remainder goes to the largest share so that the shares sum exactly to the income.
An event a rule cannot rate (hours where it rates kilograms) scores nothing and is listed
as skipped, with why: one odd event of any member never stops the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final

from zomes.accounting.common import AccountingError, dimension, from_base, to_base
from zomes.accounting.entries import Bucket as Bucket  # the entry types, re-exported
from zomes.accounting.entries import Rate as Rate
from zomes.accounting.entries import Rule, ValueEquation
from zomes.accounting.entries import ScoredAction as ScoredAction
from zomes.accounting.events import flow_quantity
from zomes.accounting.flows import event_spec
from zomes.accounting.formatting import measure_json, round_half_up, text
from zomes.valueflows.entries import EconomicEvent, EconomicResource, Process
from zomes.valueflows.trace import FlowIndex

CENT: Final = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Contribution:
    """One scored input event, in one bucket."""

    event: str
    action: str
    contributor: str
    bucket: str
    process: str | None
    quantity: dict[str, str] | None
    score: Fraction
    recorded_by: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "action": self.action,
            "bucket": self.bucket,
            "process": self.process,
            "quantity": self.quantity,
            "score": text(self.score),
            "recordedBy": self.recorded_by,
        }


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input event a bucket's rule could not rate, and why."""

    event: str
    action: str
    bucket: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"event": self.event, "action": self.action, "bucket": self.bucket,
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class AgentShare:
    agent: str
    share: Decimal
    exact: Fraction
    score: Fraction
    contributions: tuple[Contribution, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "share": f"{self.share:.2f}",
            "score": text(self.score),
            "contributions": [c.to_json() for c in self.contributions],
        }


@dataclass(frozen=True, slots=True)
class BucketResult:
    name: str
    behaviour: str
    percentage: str
    amount: Fraction
    score: Fraction
    recipient: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "behaviour": self.behaviour,
            "percentage": self.percentage,
            "amount": text(self.amount),
            "score": text(self.score),
            "recipient": self.recipient,
        }


@dataclass(frozen=True, slots=True)
class Distribution:
    """Who gets what of `income` for `output`; shares sum exactly to the income."""

    output: str
    income: Decimal
    currency: str
    buckets: tuple[BucketResult, ...]
    shares: tuple[AgentShare, ...] = field(default=())
    skipped: tuple[Skipped, ...] = field(default=())

    def share_of(self, agent: str) -> Decimal:
        return next((s.share for s in self.shares if s.agent == agent), Decimal("0.00"))

    def to_json(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "income": f"{self.income:.2f}",
            "currency": self.currency,
            "buckets": [b.to_json() for b in self.buckets],
            "agents": [s.to_json() for s in self.shares],
            "skipped": [s.to_json() for s in self.skipped],
        }


def contributions(
    equation: ValueEquation,
    *,
    output_resource: str,
    index: FlowIndex,
    events: Iterable[tuple[str, EconomicEvent]],
    resources: Mapping[str, EconomicResource],
    authors: Mapping[str, str],
    skipped: list[Skipped] | None = None,
) -> list[Contribution]:
    """Every input event in the trace of `output_resource`, scored by each bucket whose
    rules score its action, in trace order; events a rule cannot rate are added to
    `skipped` (when given; else the AccountingError is raised)."""
    by_address = dict(events)
    found: list[Contribution] = []
    for node in index.trace(output_resource):
        if node.kind != "EconomicEvent":
            continue
        event = by_address.get(node.address)
        if event is None:
            raise AccountingError(f"event {node.address} is in the index but was not given")
        if event.input_of is None:
            continue
        for bucket in equation.buckets:
            for rule in bucket.rules:
                if rule.action == event.action:
                    try:
                        scored = _score(rule, node.address, event, resources)
                    except AccountingError as e:
                        if skipped is None:
                            raise
                        skipped.append(Skipped(node.address, event.action, bucket.name, str(e)))
                        continue
                    if scored is not None:
                        quantity, score = scored
                        found.append(
                            Contribution(
                                node.address, event.action, event.provider, bucket.name,
                                event.input_of, quantity, score, authors.get(node.address),
                            )
                        )  # fmt: skip
    return found


def _score(
    rule: Rule, address: str, event: EconomicEvent, resources: Mapping[str, EconomicResource]
) -> tuple[dict[str, str] | None, Fraction] | None:
    """(quantity shown, score) of one event under one rule; None when it has no quantity."""
    rate, per = rule.rate_for(event, event_spec(event, resources))
    if rule.action == "cite":
        return None, rate
    quantity = flow_quantity(event)
    if quantity is None or per is None:
        return None
    if dimension(quantity.has_unit) != dimension(per):
        raise AccountingError(
            f"{event.action} event {address} is measured in {quantity.has_unit}, but the rule "
            f"rates it per {per}"
        )
    amount = from_base(to_base(quantity), per)
    return measure_json(quantity.value, quantity.has_unit), amount * rate


def distribute(
    equation: ValueEquation,
    *,
    output_resource: str,
    income: Decimal,
    currency: str,
    index: FlowIndex,
    events: Iterable[tuple[str, EconomicEvent]],
    processes: Mapping[str, Process],
    resources: Mapping[str, EconomicResource],
    authors: Mapping[str, str],
) -> Distribution:
    """Share `income` (in `currency`, whole cents, not negative) among the contributors to
    `output_resource` by the value equation."""
    if not isinstance(income, Decimal) or not income.is_finite() or income < 0:
        raise AccountingError(f"income must be a Decimal of at least 0, not {income!r}")
    if income != income.quantize(CENT):
        raise AccountingError(f"income {income} {currency} is not a whole number of cents")
    del processes  # processes are reached through the index; kept for a stable signature
    skipped: list[Skipped] = []
    found = contributions(
        equation, output_resource=output_resource, index=index, events=events,
        resources=resources, authors=authors, skipped=skipped,
    )  # fmt: skip
    exact: dict[str, Fraction] = {}
    results: list[BucketResult] = []
    total_income, allocated, paid = Fraction(income), Fraction(0), Fraction(0)
    for bucket in equation.buckets:
        base = total_income if bucket.behaviour == "straight" else total_income - allocated
        amount = base * Fraction(Decimal(bucket.percentage)) / 100
        allocated += amount
        scores = _agent_scores(c for c in found if c.bucket == bucket.name)
        total_score = sum(scores.values(), Fraction(0))
        if bucket.recipient is not None:
            exact[bucket.recipient] = exact.get(bucket.recipient, Fraction(0)) + amount
            paid += amount
        elif total_score > 0:
            for agent, score in scores.items():
                exact[agent] = exact.get(agent, Fraction(0)) + amount * score / total_score
            paid += amount
        results.append(
            BucketResult(
                bucket.name, bucket.behaviour, bucket.percentage, amount, total_score,
                bucket.recipient,
            )
        )  # fmt: skip
    rest = total_income - paid
    overall = _agent_scores(found)
    if rest > 0:
        weight = sum(overall.values(), Fraction(0))
        if weight == 0:
            raise AccountingError(
                f"nobody scored under the value equation {equation.name!r}, so "
                f"{text(rest)} {currency} of the income has no one to go to"
            )
        for agent, score in overall.items():
            exact[agent] = exact.get(agent, Fraction(0)) + rest * score / weight
        results.append(BucketResult("(rest)", "remaining", "", rest, weight, None))
    rounded = round_shares(exact, income)
    totals = _totals(found)
    shares = tuple(
        AgentShare(
            agent, rounded[agent], exact[agent], totals.get(agent, Fraction(0)),
            tuple(c for c in found if c.contributor == agent),
        )
        for agent in sorted(exact, key=lambda a: (-exact[a], a))
    )  # fmt: skip
    return Distribution(
        output_resource, income, currency, tuple(results), shares, tuple(skipped))


def _totals(found: Iterable[Contribution]) -> dict[str, Fraction]:
    totals: dict[str, Fraction] = {}
    for contribution in found:
        agent = contribution.contributor
        totals[agent] = totals.get(agent, Fraction(0)) + contribution.score
    return totals


def _agent_scores(found: Iterable[Contribution]) -> dict[str, Fraction]:
    """Each contributor's summed score, corrections included, never below zero."""
    return {agent: score for agent, score in _totals(found).items() if score > 0}


def split_income(income: Decimal, scores: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """`income` shared in proportion to `scores` (not negative, not all zero), rounded to
    the cent so that the shares sum exactly to the income."""
    total = sum((Fraction(s) for s in scores.values()), Fraction(0))
    if total <= 0 or any(s < 0 for s in scores.values()):
        raise AccountingError("scores must be at least 0 and not all 0")
    exact = {agent: Fraction(income) * Fraction(s) / total for agent, s in scores.items()}
    return round_shares(exact, income)


def round_shares(exact: Mapping[str, Fraction], total: Decimal) -> dict[str, Decimal]:
    """Exact non-negative shares that sum to `total`, rounded half-up to the cent; the
    remainder goes to the largest share (ties: the smallest agent id). When taking a
    negative remainder from it would push it below zero, the cents are taken one by one
    from the largest shares instead, so no share is ever negative."""
    if sum(exact.values(), Fraction(0)) != Fraction(total):
        raise AccountingError("shares do not add up to the total")
    if any(value < 0 for value in exact.values()):
        raise AccountingError("a share is negative")
    rounded = {agent: round_half_up(value, CENT) for agent, value in exact.items()}
    remainder = total - sum(rounded.values(), Decimal(0))
    if not rounded or remainder == 0:
        return rounded
    order = sorted(rounded, key=lambda agent: (-rounded[agent], -exact[agent], agent))
    largest = order[0]
    if rounded[largest] + remainder >= 0:
        rounded[largest] += remainder
        return rounded
    step = CENT if remainder > 0 else -CENT
    while remainder != 0:
        for agent in order:
            if remainder == 0:
                break
            if rounded[agent] + step >= 0:
                rounded[agent] += step
                remainder -= step
    return rounded
