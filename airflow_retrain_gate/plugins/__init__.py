"""The Airflow UI plugin: decision history, each decision's evidence with charts, linked from DAG runs."""
