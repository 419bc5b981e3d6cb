"""replaybook's library: scenarios, packs, sessions and the Docker engine behind them.

Everything here returns values and raises :class:`libreplay.core.errors.ReplayError`
subclasses; nothing prints to the terminal's data stream or exits the process.
"""

__version__ = "0.1.0"
