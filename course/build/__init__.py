"""Stage 1, build: source/ → release/, solutions/ and slides/ (inject, release, solutions, slides, authoring).

Why a stage: these steps turn the one source of truth into what students and the class see; they
never run student code, and they import only ``course.core``.
"""
