"""`python -m workers`: run the worker with settings from the environment."""

import asyncio
import sys

from core.settings import Settings
from workers.worker import TemporalUnreachable, run_worker

if __name__ == "__main__":
    try:
        asyncio.run(run_worker(Settings.from_env()))
    except (TemporalUnreachable, ValueError) as exc:
        sys.exit(f"sagsflow worker: {exc}")
