"""What every sagsflow process shares: the Temporal connection (data converter, payload
encryption, TLS, SDK runtime, tracing), logging, settings, the local Temporal dev server and the
embedded HTTP server, and how a process stops on a signal.

The processes themselves live elsewhere (`workers`, `api`, `cli`); this package runs nothing on
import, so any of them — and the tests, bench and chaos harnesses — can use it.
"""
