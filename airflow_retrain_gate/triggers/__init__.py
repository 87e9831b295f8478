"""Airflow triggers: the async halves of the sensors."""
