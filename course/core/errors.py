"""One exception type for everything an instructor can fix.

Why: the CLI prints a CourseError as a single line ("what went wrong — what to
do") and exits 1, while any other exception is a bug in the kit and keeps its
traceback.
"""


class CourseError(Exception):
    """A problem the user can act on. The message says what to do."""
