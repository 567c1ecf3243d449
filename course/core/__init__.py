"""Plain helpers every stage shares: paths, notebooks, settings, errors, progress, environment, scratch
courses, datasets, nbgrader app wiring and notebook execution.

Why a folder of its own: core is the bottom of the pipeline. It imports no stage, so any stage can
use it without pulling in grading or classroom code.
"""
