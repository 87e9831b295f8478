"""Story warehouses: synthetic tables that tell each story of the design, for the demo, examples and tests."""
