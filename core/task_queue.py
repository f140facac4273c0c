"""The task queue of the case workflows, unless SAGSFLOW_TASK_QUEUE names another.

A module of its own without imports: the CLI's option help names it, and `sagsflow --help` must
load nothing heavy (tests/test_cli_startup.py). Workers poll it, `CaseService` starts cases on
it, the settings default to it. (workflows/legacy_v1.py keeps its own copy: that file is frozen.)
"""

TASK_QUEUE = "sagsflow-cases"
