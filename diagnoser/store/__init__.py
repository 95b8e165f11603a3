"""Storage: SQLAlchemy 2 typed models and data functions that take a Session. Never imports flask."""
