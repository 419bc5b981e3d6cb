"""Foundations every stage uses: errors, paths, atomic files, child processes, signals,
the watch loop and inert text."""
