"""The docs name every validation rule the code applies (docs/validation-rules.md)."""

from pathlib import Path

from node.core.chain import PAIR_RULES, RECORD_RULES
from validation.app import APP_RULES
from validation.sys import SYS_RULES
from zomes.accounting.zome import RULES as ACCOUNTING_RULES
from zomes.valueflows.agreements import RULES as AGREEMENT_RULES
from zomes.valueflows.commitments import RULES as COMMITMENT_RULES
from zomes.valueflows.proposals import RULES as PROPOSAL_RULES
from zomes.valueflows.recipe_links import RULES as RECIPE_LINK_RULES
from zomes.valueflows.recipe_rules import RECIPE_RULES
from zomes.valueflows.rules import RULES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "validation-rules.md").read_text()


def test_every_rule_is_documented():
    names = [*SYS_RULES, *RULES, *RECIPE_RULES, *ACCOUNTING_RULES, *PAIR_RULES, *RECORD_RULES,
             "check_membrane_proof", "check_entry_shape", "check_update_allowed"]
    names += list(APP_RULES)
    names += list(PROPOSAL_RULES)
    names += list(AGREEMENT_RULES)
    names += list(COMMITMENT_RULES)
    names += list(RECIPE_LINK_RULES)
    missing = [n for n in names if f"`{n}`" not in DOC]
    assert not missing, f"docs/validation-rules.md lacks {missing}"


def test_every_command_is_in_the_cli_reference():
    import cli

    reference = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    missing = [path for path, _, _ in cli._COMMANDS if f"## coledger {path}\n" not in reference]
    assert not missing, f"docs/cli.md lacks {missing}"
