"""Command-line adapters, one module per executable (installed as replaybook.commands)."""
