"""The `diagnoser` command. Each group of subcommands lives in its own module and is a thin click
wrapper over plain functions, so the same work is callable (and testable) without a shell."""

from __future__ import annotations

import click

from diagnoser import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="diagnoser")
def cli() -> None:
    """Diagnoser: named root causes for deep-learning training tracebacks."""


def _register() -> None:
    from diagnoser.cli import engine_commands, notify_commands, service_commands, user_commands

    engine_commands.register(cli)
    service_commands.register(cli)
    user_commands.register(cli)
    notify_commands.register(cli)


_register()


def main() -> None:
    cli(prog_name="diagnoser")
