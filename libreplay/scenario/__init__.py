"""The scenario format: the model, meta.json's schema, loading, and the compose sandbox policy."""
