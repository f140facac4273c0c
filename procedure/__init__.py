"""The action card as data: tasks, deadlines, timers, contacts, and the recommendation rules.

`models`, `calendar` and `rules` are pure and may be used inside workflow code; `loader` reads
files and the holiday calendar and is used by the `load_procedure` activity only.
"""
