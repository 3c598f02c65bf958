"""The node's workflows (validation, publish, gossip) and the trio conductor."""
