"""Stage 3, classroom: what an instructor does with a class (collect, feedback, export, lab).

Why a stage: these steps move hand-ins in and grades out; they sit on top of grading and may import
it, never the other way round.
"""
