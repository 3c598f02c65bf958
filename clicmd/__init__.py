"""The `coledger` commands by group, one module each (cli.py builds the parser from them)."""
