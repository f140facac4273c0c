"""The worker process: connects to Temporal, registers the case workflow and its activities,
migrates the store, and shuts down gracefully on SIGINT/SIGTERM."""
