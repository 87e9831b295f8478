"""Airflow operators: the retrain gate."""
