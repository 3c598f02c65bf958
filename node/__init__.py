"""The coledger node. Deliberately imports nothing, so pure layers stay light."""
