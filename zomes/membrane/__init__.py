"""The membrane: invitations and the membrane proofs that let an agent join a network."""
