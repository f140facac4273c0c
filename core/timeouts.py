"""How long a caller (the API, the CLI) waits for a case before it answers for it.

A query or update is answered by a worker: a case whose workflow task keeps failing (or that no
worker serves) would otherwise hold the caller until the RPC's own deadline. A module without
imports, so that the CLI can name the figure in its messages without loading Temporal.
"""

QUERY_TIMEOUT_SECONDS = 20.0
UPDATE_TIMEOUT_SECONDS = 30.0
