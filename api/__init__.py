"""The platform-facing side: the case service (CLI and HTTP API share it)."""
