"""Client test fixtures; their code lives in client_helpers.py (a unique module name: the service tests have a
conftest.py of their own, and test modules import helpers from here by name)."""

from client_helpers import fake_service, real_service_factory, write_script  # noqa: F401
