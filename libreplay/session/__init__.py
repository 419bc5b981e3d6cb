"""One session's life: state and its transitions, the stack, checks, hints, watcher, ledger, test cycles."""
