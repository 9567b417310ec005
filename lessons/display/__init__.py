"""Results to what a page draws: highlighted code and SQL, the query report, charts, prose."""
