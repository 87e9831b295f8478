"""Airflow sensors: wait until the gate's inputs are ready."""
