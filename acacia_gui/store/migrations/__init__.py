"""The schema's steps, applied in order: NNNN_name.sql scripts, and the Python steps below for
what SQL alone cannot do (listed here, not found on disk, so a frozen app has them too)."""

from . import step_0005_dependencies, step_0009_schedules, step_0010_ran_on

PYTHON_STEPS = {5: step_0005_dependencies.migrate, 9: step_0009_schedules.migrate, 10: step_0010_ran_on.migrate}
