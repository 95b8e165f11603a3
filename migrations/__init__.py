"""Alembic migrations, shipped as the package `diagnoser._migrations`."""
