"""ERP connectors: one module per ERP behind the small interface in ``base``."""
