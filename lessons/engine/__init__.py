"""Run code on a dataset, recorded and always rolled back. Knows nothing of lessons or requests."""
