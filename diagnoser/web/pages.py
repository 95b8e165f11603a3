"""The pages people read: the team dashboard (diagnoser.web.dashboard), registered by create_app as `pages.bp`."""

from __future__ import annotations

from diagnoser.web.dashboard import bp

__all__ = ["bp"]
