"""Training days: a facilitator's trainings, their seats and invite tokens, each seat's session
driven by the one session engine, and the PTY that carries a trainee's shell to a browser."""
