"""The ValueFlows (REA) zome: VF 1.0 entry types, the action-effects table, resource state
derived from events, the accounting rules, and track & trace. Pure: values in, values out."""
