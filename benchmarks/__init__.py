"""Speed and memory benchmarks of the gate against the scan floor and a pandas-based drift tool."""
