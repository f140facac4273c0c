"""The `sagsflow` command line."""
