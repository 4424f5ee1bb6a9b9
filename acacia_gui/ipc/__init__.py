"""The local-socket protocol, shared by the CLI/client and the app's server. Pure Python, no Qt."""
