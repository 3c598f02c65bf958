"""The ledger of a home, for the CLI and scripts (the commit workflow lives in
node.runtime.ledger, where the running node uses it too)."""

from node.runtime.ledger import Ledger, RuleBroken, describe_node, make_validator, open_ledger

__all__ = ["Ledger", "RuleBroken", "describe_node", "make_validator", "open_ledger"]
