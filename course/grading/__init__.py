"""Stage 2, grading: run a student's notebook in the sandbox and score it (autograde, nbgrader_ext,
sandbox, forkserver, integrity, gradebook).

Why a stage: everything that touches untrusted code lives here, behind one door; it imports only
``course.core`` and ``course.build``.
"""
