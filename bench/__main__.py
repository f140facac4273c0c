"""`python -m bench` (`make bench`): see bench/run.py."""

from bench.run import cli

if __name__ == "__main__":
    cli()
