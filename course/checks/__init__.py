"""Stage 4, the checks that prove the kit works: holes, bench, cohort, demo, and the synthetic
submissions they grade.

Why last: each check drives the earlier stages in scratch courses, so it may import any of them and
nothing imports it (except the CLI and the tests).
"""
