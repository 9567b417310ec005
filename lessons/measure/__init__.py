"""Runs held against a lesson's promise: one snippet, a pair on every dataset, a query plan."""
