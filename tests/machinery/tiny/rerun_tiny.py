"""rerun.py for the tiny task's result files:

PYTHONPATH=<project root> python tests/machinery/tiny/rerun_tiny.py RESULT_FILE

rerun.py re-runs a result with the project's task (task.py); this runs it with the tiny task.
"""

from __future__ import annotations

import sys

import tiny

import rerun

if __name__ == "__main__":
    rerun.task = tiny  # the task whose `run` re-computes the stored config
    sys.exit(rerun.main())
