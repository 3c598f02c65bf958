"""Pure core: encoding, addresses, identity, actions, records and chain rules. No I/O."""
