"""airflow-retrain-gate: retrain when the target is different, not when the distribution is."""

__version__ = "0.1.0"
