"""Capacity and the finite forward schedule of the work centers (R-5.1).

``core`` is pure (plain values in, plain values out); ``selectors`` load its inputs and read the
stored schedule; ``services`` store it, answer the release check and wake the rescheduling task.
"""
