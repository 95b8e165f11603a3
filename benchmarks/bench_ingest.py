"""Ingest throughput and latency: POST /api/v1/reports under sustained load, beside the limit.

The limit is a bare Flask endpoint that reads and parses the same JSON under the same gunicorn settings (gthread,
same workers and threads) and stores nothing. Load: N keep-alive connections (default 32), spread over a few client
processes so the load generator is not itself the bottleneck of one GIL. After each service run the number of
stored reports must equal the number of 201 answers: nothing accepted is lost, nothing refused is stored.

    python benchmarks/bench_ingest.py                       # SQLite, and PostgreSQL when DIAGNOSER_TEST_POSTGRES_URL is set
    python benchmarks/bench_ingest.py --db sqlite --runs 3 --seconds 10

Notes from profiling this on a 2-CPU virtual machine (the load generator shares the CPUs, so the ratio is roughly
the ratio of CPU per request; figures from /proc, perf and py-spy):
- The service writes through one writer process (store.writer_process) that the gunicorn master starts; the
  service is therefore started with deploy/gunicorn.conf.py (its hooks), all other gunicorn settings on the command
  line and identical for both. Before it, a writer thread per worker took turns with the other worker's on SQLite's
  write lock while re-acquiring its GIL after each SQLite call: 15-20% idle CPU under load, 40-46% of bare.
- A batch's fixed cost was ~0.95 ms of CPU through SQLAlchemy (session, Core execution) against ~0.05 ms per report
  more; on the driver's cursor with Core-compiled statements it is ~0.3 ms (COMMIT's WAL writes ~0.1 ms of it).
- Ceilings measured with the write replaced (same gunicorn settings, paired with bare runs): the request side with
  a no-op write ran at ~90% of bare; the same with the no-op write followed by a 1 ms sleep ran at ~70% (67-81%).
  Under gthread, a request that waits for anything (here: its commit) is parked and must win the GIL back when it
  wakes, whatever the wait's length; two non-blocking syscalls in its place cost nothing measurable. Context
  switches per request in a worker (/proc): ~3 for bare, ~4 with the 1 ms sleep, ~10-12 waiting on the writer
  (a batch's answers wake its threads together). So with a commit before every answer, the ceiling here is near
  70%, before the writer's own CPU (~0.2 ms per report).
- Tried: commit intervals 0-20 ms (5 ms kept: wakes the writer once per batch, batches of ~5-10 under load; it
  writes at once when every active worker thread is waiting), gevent workers for both (52-56%), fewer threads
  (more idle), GIL switch intervals 0.2-50 ms (no change beyond noise).
- Runs vary by +-15 points on this shared machine; use --runs 5 or more and read the median.
