"""gunicorn configuration: `gunicorn -c deploy/gunicorn.conf.py` serves Diagnoser (the app is set by wsgi_app).

The values live in the package (diagnoser.gunicorn_conf) so `diagnoser serve` uses the very same ones.
Override with the usual environment: DIAGNOSER_BIND, WEB_CONCURRENCY, DIAGNOSER_THREADS, GUNICORN_CMD_ARGS.
"""

from diagnoser.gunicorn_conf import *  # noqa: F401,F403
from diagnoser.gunicorn_conf import child_exit, on_starting  # noqa: F401  (the hooks gunicorn looks for)
