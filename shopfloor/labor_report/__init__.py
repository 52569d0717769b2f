"""Labor per operator for payroll: the report (``selectors``), its downloads (``exports``), API and page."""
