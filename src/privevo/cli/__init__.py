"""The command-line front: `privevo <step>`, each step a thin function over the layers below."""

from privevo.cli.parser import main

__all__ = ["main"]
