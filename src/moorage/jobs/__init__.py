"""Background jobs: huey carries "run job <id>" messages (SQLite file queue on one machine, Redis for
several); the ``jobs`` table holds each job's truth (status, lease, progress, result). A worker
claims a job with a lease it keeps renewing; if the worker dies the lease lapses and a recovery pass
enqueues the job again, so jobs survive killed workers and lost messages. Job handlers take the job
(its id and parameters), lock what they change, and must be safe to run twice."""
