"""The operator station: a tablet with a keyboard-wedge scanner at a work center.

``access`` turns the browser's station cookie into a ``Station`` and badges into operators,
``services`` and ``selectors`` hold the station's writes and reads, ``views`` are the pages and
the small JSON interface the station's script (static/shopfloor/station.js) talks to.
"""
