"""The fault suite (`make chaos`): whole cases on the real Temporal dev server, with the worker,
the server and the driver as separate processes; worker and server kills, poison signals from
the stock `temporal` CLI; then every case is verified (not stuck, replays, store equals
snapshot, no duplicates, every timer fired, every poison signal visible as a rejection).
"""
