"""The scenario format: the model, meta.json's schema, loading (with the compose file's static
reading), and the compose sandbox policy."""
