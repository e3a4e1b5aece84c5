"""Errors that mean "the user's input is wrong": the CLI prints their one-line message and exits with 2."""


class ParamsError(ValueError):
    """params.yaml has an unknown key or a bad value; the message names the key."""


class BatchTooLargeError(ParamsError):
    """A batch did not fit in the device's memory; the message names the params key of its size and a smaller one.

    A :class:`ParamsError` because the fix is a params value: the CLI prints the one line and exits with 2.
    """
