"""One thin entry point per DVC stage: read config and inputs, call pure code, write outputs."""
