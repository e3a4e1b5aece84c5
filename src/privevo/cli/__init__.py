"""The command-line front: `privevo <step>`, each step a thin function over the layers below."""

from privevo.cli.commands import main

__all__ = ["main"]
