"""Airflow hooks: connections to the warehouse and state database."""
