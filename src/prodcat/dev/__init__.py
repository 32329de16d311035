"""Team tooling that never ships with a model: a local PostgreSQL + MLflow server stack."""
