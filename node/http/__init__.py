"""The node's HTTP face (served by `coledger run`): the front door for ASGI handlers, access
(token, sessions, CSRF, origin) and the app the GraphQL API and the dashboard plug into."""
