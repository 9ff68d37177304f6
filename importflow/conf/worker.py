"""[worker] options: concurrency, reaper, shutdown."""

from oslo_config import cfg

GROUP = 'worker'

worker_opts = [
    cfg.IntOpt('max_concurrent_imports', default=8, min=1,
               help='Imports one worker process runs at once.'),
    cfg.IntOpt('workers', default=1, min=1,
               help='Worker processes started by importflow-worker.'),
    cfg.IntOpt('reaper_interval', default=10, min=1,
               mutable=True,
               help='Seconds between scans for expired leases and '
                    'undelivered tasks.'),
    cfg.IntOpt('graceful_shutdown_timeout', default=60, min=0,
               mutable=True,
               help='Seconds running imports get to finish after SIGTERM '
                    'before their leases are handed back.'),
]


def register(conf):
    conf.register_opts(worker_opts, group=GROUP)


def list_opts():
    return [(GROUP, worker_opts)]
