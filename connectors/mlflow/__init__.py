"""MLflow connector: experiments, runs, datasets, logged models and the model registry, through MLflow's own
client library (`mlflow-skinny`)."""
