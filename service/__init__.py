"""Client-side operations on cases (`service.cases.CaseService`): what the HTTP API, the CLI,
the demo, bench and chaos do to a case, through a Temporal client and the store."""
