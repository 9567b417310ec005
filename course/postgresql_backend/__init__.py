"""PostgreSQL for the course's own tables (base.py). What is here loads without psycopg."""

HEALTHY_FOR = 2.0  # seconds a health check or a new connection vouches for a kept connection
