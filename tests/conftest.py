"""Shared test settings: hypothesis without deadlines (these machines are noisy)."""

from hypothesis import settings

settings.register_profile("coledger", deadline=None, max_examples=100)
settings.load_profile("coledger")
