"""nbgrader configuration for the course kit.

Every setting here has a reason; change a number only with the benchmark's
figures in hand (`python -m course bench`).
"""
import os

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, GetGrades,
                                    IgnorePattern, LimitOutput, OverwriteKernelspec, SaveAutoGrades)

from course.classroom.feedback_view import StudentFeedback
from course.grading.nbgrader_ext import BudgetedExecute, RestoreCells
from course.grading.sanitise import SanitiseStudentContent

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

# The course directory is wherever this file is, so a scratch copy (tests, holes) is its own course.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "mathfound-ai"
# The kit hands notebooks out through Colab links and an LMS, not nbgrader's exchange; keep it local.
c.Exchange.root = os.path.join(c.CourseDirectory.root, ".exchange")

# What a student sees in place of a solution: it says what to do, and it fails loudly if left alone.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE: replace this line with your solution\n"
              "raise NotImplementedError(\"not written yet\")"
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Time limits. Grading runs with FAST=True (training shrinks): the slowest cell of any solved lab took 5 s
# and a whole solved notebook at most 21 s, two notebooks at a time on 2 cores (`python -m course bench
# --cohort`). 30 s per cell is six times that and is what a looping submission costs; a notebook that is
# slow everywhere stops after 3 minutes.
c.Execute.timeout = 30
c.BudgetedExecute.notebook_timeout = 180
c.Execute.startup_timeout = 120
c.Autograde.autograde_preprocessors = [
    BudgetedExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    # Student Markdown, raw cells and rich outputs made inert before the formgrader renders autograded/
    # (issue 14). After SaveAutoGrades, so it cannot change a score: grades are already in the gradebook,
    # and it only rewrites what the notebook shows (it never removes or reorders an output).
    SanitiseStudentContent,
    CheckCellMetadata,
]

# A harmless warning on stderr must not zero a correct answer: drop stderr that is only warnings.
c.IgnorePattern.enabled = True
# The pattern matches stderr that names a Warning and carries no traceback or error.
c.IgnorePattern.pattern = r"^(?![\s\S]*(?:Traceback|Error:))[\s\S]*\b\w*Warning\b[\s\S]*$"

# Deleted or edited test cells come back from the gradebook's copy of the source (RestoreCells: nbgrader's
# OverwriteCells, which failed when the cell before a deleted test was a locked given cell).
c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec, RestoreCells, CheckCellMetadata]
c.OverwriteCells.add_missing_cells = True

# Keep huge outputs (a student's print in a loop) from bloating the autograded notebooks.
c.LimitOutput.max_lines = 500
c.LimitOutput.max_traceback = 50

# Feedback shows the outputs of the notebook as handed in and one verdict line per test, never what the
# grading kernel printed: it held the hidden tests, which are reused next year (classroom/feedback_view.py).
c.GenerateFeedback.preprocessors = [GetGrades, StudentFeedback, SanitiseStudentContent, CSSHTMLHeaderPreprocessor]
