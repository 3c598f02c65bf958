"""The network: wire codecs, authority math and gossip math (pure), and the
transports that carry them (an in-memory network for tests and simulations, and a
py-libp2p backend). Deliberately imports nothing: `import libp2p` costs about a
second, and the pure modules must stay cheap to import.
"""
