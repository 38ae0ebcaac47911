-- The INSERT of POST /companies as pgbench runs it (bench/run.sh, `pgbench_write_ceilings`):
-- the same columns, values and RETURNING, into a copy of `companies` with the same indexes,
-- defaults and region foreign key, so the service's benchmark rows stay as they are.
\set n random(1, 1000000000)
INSERT INTO bench_insert (name, name_key, region_id, city_key, employee_count, employee_sort,
    created_at, updated_at, version, created_by, updated_by)
VALUES ('Benchmark-Neugruendung ' || :n, 'benchmark-neugruendung ' || :n, :region, '',
    :n % 200, :n % 200, now(), now(), 1, 'admin', 'admin')
RETURNING *;
