"""The contract: pydantic v2 models shared by workflows, activities, store, API and CLI.

Pure data, no I/O. Everything here may be imported inside workflow code.
"""
