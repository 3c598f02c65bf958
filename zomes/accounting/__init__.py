"""The accounting zome: flow, contributive and thermodynamic accounting over ValueFlows
events, and exports in the ecosystem's formats (VF JSON-LD, PACT, EPCIS, CSV). Pure:
values in, values out; the runtime gathers the events and calls these functions."""
