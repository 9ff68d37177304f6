#!/usr/bin/env python3
"""Queue benchmark: small imports through RabbitMQ, PostgreSQL and real
importflow-worker processes.

Prints, for 1 and 2 workers: imports per second under a burst of requests,
p50/p95 latency from the import request to the image being active, the
queue overhead (request to the worker's claim) under that burst, and the
queue overhead of an idle worker (imports one at a time), the workers' CPU
milliseconds per import and how busy the whole machine was during the
burst. Not a test: it measures.

    python tools/benchmark_queue.py [--imports 200] [--size 1048576]
        [--workers 1,2] [--concurrency 8]

``--concurrency`` sets each worker's ``max_concurrent_imports``.
"""

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent import futures

import benchmark   # tools/benchmark.py: the /proc measurements

BIN = os.path.dirname(sys.executable)
PG_ADMIN = 'host=127.0.0.1 port=5432 user=postgres dbname=test'
# Imports run one at a time first, for the queue latency of an idle worker.
IDLE_SAMPLES = 20


def _config(root, db_url, exchange, concurrency):
    path = os.path.join(root, 'importflow.conf')
    with open(path, 'w') as f:
        f.write('\n'.join([
            '[DEFAULT]', 'state_path = %s' % root,
            'transport_url = rabbit://guest:guest@127.0.0.1:5672/',
            'control_exchange = %s' % exchange,
            'enabled_backends = bench:file', 'debug = false',
            '[glance_store]', 'default_backend = bench',
            '[bench]', 'filesystem_store_datadir = %s/bench' % root,
            '[os_glance_staging_store]',
            'filesystem_store_datadir = %s/staging' % root,
            '[database]', 'connection = %s' % db_url,
            '[worker]', 'max_concurrent_imports = %d' % concurrency,
        ]) + '\n')
    return path


def _process_tree_cpu(root):
    """CPU seconds (user + system) of a process and its descendants."""
    parents = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open('/proc/%s/stat' % name) as f:
                    parents[int(name)] = int(
                        f.read().rsplit(')', 1)[1].split()[1])
            except OSError:
                continue
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += benchmark.cpu_seconds(pid)
        except OSError:
            continue
        todo += [child for child, parent in parents.items() if parent == pid]
    return total


def _percentile(values, pct):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(pct / 100 * len(values))))]


def run(workers, imports, size, concurrency):
    import psycopg
    import sqlalchemy as sa
    root = tempfile.mkdtemp(prefix='importflow-bench-')
    dbname = 'importflow_bench_%s' % uuid.uuid4().hex[:8]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute('CREATE DATABASE %s' % dbname)
    db_url = 'postgresql+psycopg://postgres@127.0.0.1:5432/%s' % dbname
    config = _config(root, db_url, 'bench_%s' % uuid.uuid4().hex[:6],
                     concurrency)
    procs = []
    try:
        from importflow import conf
        conf.parse_args(['--config-file', config])
        from importflow.db import api as db
        from importflow.db import migration
        migration.sync()
        from importflow import client as client_mod
        client = client_mod.Client()
        payload = os.urandom(size)
        ids = []
        for _ in range(imports + IDLE_SAMPLES):
            image = client.create_image(name='b', disk_format='raw',
                                        container_format='bare')
            client.stage(image['id'], io.BytesIO(payload))
            ids.append(image['id'])
        for i in range(workers):
            log_path = os.path.join(root, 'worker-%d.log' % i)
            procs.append(subprocess.Popen(
                [os.path.join(BIN, 'importflow-worker'), '--config-file',
                 config], stdout=open(log_path, 'w'),
                stderr=subprocess.STDOUT))
            # A cast before the worker declared its queue would be lost.
            while 'started' not in open(log_path).read():
                time.sleep(0.1)
        # Idle latency first: one import at a time.
        idle_queue = []
        for image_id in ids[:IDLE_SAMPLES]:
            task = client.import_image(image_id)
            task = client.wait(task['id'], poll=0.01)
            idle_queue.append(
                (task['started_at'] - task['created_at']).total_seconds())
        ids = ids[IDLE_SAMPLES:]
        workers_cpu = sum(_process_tree_cpu(p.pid) for p in procs)
        machine_busy = benchmark.system_busy_seconds()
        start = time.time()
        with futures.ThreadPoolExecutor(8) as pool:
            task_ids = list(pool.map(
                lambda image_id: client.import_image(image_id)['id'], ids))
        # A count, not the rows: this process shares the machine's cores
        # with the workers it measures.
        finished = sa.select(sa.func.count()).select_from(db.tasks).where(
            db.tasks.c.status.in_(('success', 'failure')))
        while True:
            with db.get_engine().connect() as conn:
                if conn.execute(finished).scalar() >= imports + IDLE_SAMPLES:
                    break
            time.sleep(0.05)
        workers_cpu = sum(_process_tree_cpu(p.pid) for p in procs) - \
            workers_cpu
        machine_load = (benchmark.system_busy_seconds() - machine_busy) / (
            (time.time() - start) * os.cpu_count())
        rows = {r['id']: r for r in db.task_list()}
        done = [rows[t] for t in task_ids]
        failed = [r for r in done if r['status'] != 'success']
        wall = max(r['updated_at'] for r in done) - min(
            r['created_at'] for r in done)
        latency = [(r['updated_at'] - r['created_at']).total_seconds()
                   for r in done]
        queue = [(r['started_at'] - r['created_at']).total_seconds()
                 for r in done]
        client.close()
        return {'workers': workers, 'imports': imports,
                'idle_queue_p50_ms': 1000 * statistics.median(idle_queue),
                'failed': len(failed), 'elapsed_s': time.time() - start,
                'per_s': imports / wall.total_seconds(),
                'p50_ms': 1000 * statistics.median(latency),
                'p95_ms': 1000 * _percentile(latency, 95),
                'queue_p50_ms': 1000 * statistics.median(queue),
                'queue_p95_ms': 1000 * _percentile(queue, 95),
                'worker_cpu_ms': 1000 * workers_cpu / imports,
                'machine_busy_pct': 100 * machine_load}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        from importflow.db import api as db
        db.dispose_engine()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % dbname)
        shutil.rmtree(root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--imports', type=int, default=200)
    parser.add_argument('--size', type=int, default=1024 * 1024)
    parser.add_argument('--workers', default='1,2')
    parser.add_argument('--concurrency', type=int, default=8,
                        help='max_concurrent_imports of each worker')
    args = parser.parse_args()
    print('# %d imports of %d bytes, max_concurrent_imports = %d'
          % (args.imports, args.size, args.concurrency))
    print('%-8s %8s %7s %9s %9s %9s %12s %12s %14s %14s %9s' % (
        'workers', 'imports', 'failed', 'imports/s', 'p50 ms', 'p95 ms',
        'queue p50 ms', 'queue p95 ms', 'idle queue p50',
        'worker CPU ms', 'machine'))
    for workers in [int(w) for w in args.workers.split(',')]:
        # Each run in its own process: importflow configures per process.
        out = subprocess.run(
            [sys.executable, __file__, '--one', str(workers),
             str(args.imports), str(args.size), str(args.concurrency)],
            capture_output=True, text=True)
        if out.returncode:
            sys.exit('benchmark failed:\n' + out.stderr[-3000:])
        print(out.stdout.strip().splitlines()[-1])


def one(workers, imports, size, concurrency):
    r = run(workers, imports, size, concurrency)
    print('%-8d %8d %7d %9.1f %9.0f %9.0f %12.0f %12.0f %14.0f %14.0f %8.0f%%'
          % (r['workers'], r['imports'], r['failed'], r['per_s'],
             r['p50_ms'], r['p95_ms'], r['queue_p50_ms'], r['queue_p95_ms'],
             r['idle_queue_p50_ms'], r['worker_cpu_ms'],
             r['machine_busy_pct']))


if __name__ == '__main__':
    if len(sys.argv) == 6 and sys.argv[1] == '--one':
        one(*map(int, sys.argv[2:]))
    else:
        main()
