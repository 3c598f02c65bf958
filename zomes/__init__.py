"""Application zomes. Imports nothing so that pure modules stay light."""
