"""The pieces of a deployment on several machines, run on this one: PostgreSQL (pg.py), nginx (nginx.py and
the nginx.conf template), and `make cluster` putting them together with three replicas (cluster.py).
Not installed and not imported by the product; the cluster tests use the same code."""
