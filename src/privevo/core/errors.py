"""Errors that mean "the user's input is wrong": the CLI prints their one-line message and exits with 2."""


class ParamsError(ValueError):
    """params.yaml has an unknown key or a bad value; the message names the key."""
