"""The edges: the pipeline's files, the MLflow tracking store and the Model Registry."""
