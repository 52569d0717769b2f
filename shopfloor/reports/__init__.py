"""Reports a plant runs on (R-5.4): the daily execution report per line and work center (``daily``),
its PDF (``shopfloor.documents.daily_report``) and XLSX (``xlsx``), its page and API, and its sending
after each shift's end through the andon channels (``services``)."""
