"""A refusal of the offline signer: a message for the user and exit status 1."""

from __future__ import annotations

from typing import NoReturn


class CliError(Exception):
    """A refusal with a message for the user; exit status 1."""


def fail(message: str) -> NoReturn:
    raise CliError(message)
