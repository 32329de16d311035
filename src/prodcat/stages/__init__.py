"""One entry point per DVC stage: read its ``params.yaml`` section and inputs, call ``core``,
write outputs and log to MLflow. Nothing here is a library: benchmarks and tests use ``core``."""
