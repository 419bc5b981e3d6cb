"""replaybook serve's web layer: the Starlette app, its pages and their static files."""
