"""The caller's mistakes, named by cause and phrased for any caller (the command line, the
socket, an HTTP API): a message names a request's fields (`Field`), never a command-line
flag, and tells no one to run a command. Each front end adds its own words: the CLI names
its flags and hints at its commands (cli.py `_hinted`).

Every class here is a `Phrased`, so it crosses the node's socket by name and parts."""

from __future__ import annotations

from node.core.errors import NotFound, Phrased

# -- a request's field holds what cannot be used ------------------------------------------


class NotAnAgentId(Phrased):
    """A field that must name an agent does not hold an agent id."""


class SelfCountersign(Phrased):
    """A countersigned event whose counterparty is this agent."""


class OutOfRange(Phrased):
    """A number outside what the field allows."""


class NotAnAddress(Phrased):
    """A field that must hold an address (a CID) does not."""


class BadQuantity(Phrased):
    """A field's quantity, number or unit cannot be read."""


class MissingField(Phrased):
    """A field (or one of several) that this request needs is not given."""


class NewNotAllowed(Phrased):
    """`new:NAME` in a field where nothing new may be created, or without a name."""


class UnknownUnit(Phrased):
    """A resource to create whose unit nothing in the request tells."""


class BadFactor(Phrased):
    """A footprint factor or an allocation share that is not KIND=QUANTITY or
    RESOURCE=FRACTION."""


class FieldNotForThis(Phrased):
    """A field given with a request that does not use it."""


class TargetExists(Phrased):
    """A file to write already exists (nothing is overwritten)."""


# -- the home or the chain is not ready for what was asked --------------------------------


class UnknownAction(Phrased):
    """An action that is none of the ValueFlows actions."""


class NotJoined(Phrased):
    """This agent has joined no network yet (no genesis on its chain)."""


class NetworkFileMissing(Phrased):
    """The home's copy of its network file is gone though its chain is not."""


class NoSession(Phrased):
    """No countersigning session of that id (or id prefix)."""


class HomeTaken(Phrased):
    """`init` where an agent already lives (replacing it destroys it)."""


class KeyMissing(Phrased):
    """`init` beside a chain whose key file is missing (a new key would orphan the chain)."""


class NoKey(Phrased, NotFound):
    """No agent key in this home: nothing was ever created here."""


class NoChain(Phrased):
    """An agent key without its chain: restore the chain (or, never joined, start again)."""


class NodeAlreadyRunning(Phrased):
    """Another running node holds this home's lock."""


class WriteRefused(Phrased):
    """This home must not be written to now (its chain is damaged); nothing was written."""


class ChainBehind(Phrased):
    """Our chain is behind what the network holds of it: a write would fork it."""


class ChainUnchecked(Phrased):
    """A home restored from a backup whose chain has not yet been compared with the
    network's: the network may hold later actions of ours, and a write would fork it."""


class NoNode(Phrased):
    """An operation that needs the home's running node, and none runs."""


class NodeSilent(Phrased):
    """The home's node has a socket but does not answer on it."""


class NoPeerKnown(Phrased):
    """Recovery with no node running and no member's address to ask."""


class NoPeerAnswered(Phrased):
    """Recovery asked the network and no peer answered with this chain."""


class RecoveryLoses(Phrased):
    """Recovery would drop or set aside actions of ours: done only when forced."""


class RecoveryShort(Phrased):
    """The peers reached hold less of this chain than the network had: done only when
    forced."""

