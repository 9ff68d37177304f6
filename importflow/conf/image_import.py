"""[image_import_opts] and [task] options: plugins, parallelism, leases."""

from oslo_config import cfg

GROUP = 'image_import_opts'
TASK_GROUP = 'task'

image_import_opts = [
    cfg.ListOpt('image_import_plugins', default=[],
                help='Plugins (entry points in importflow.image_import.'
                     'plugins) run after staging, in list order. A name '
                     'that cannot be loaded stops the worker at start.'),
    cfg.IntOpt('max_parallel_stores', default=4, min=1, max=32,
               mutable=True,
               help='Store copies of one import that run at once; 1 copies '
                    'serially in target order.'),
    cfg.IntOpt('heartbeat_interval', default=10, min=1, max=60,
               help='Seconds between lease renewals, progress refreshes and '
                    'abort/delete/lock checks of a running import.'),
    cfg.FloatOpt('progress_interval', default=1.0, min=0.1, max=60,
                 mutable=True,
                 help='Seconds between progress writes to the task record '
                      'while data flows (capped by heartbeat_interval).'),
    cfg.IntOpt('task_lease_timeout', default=120, min=3,
               help='Seconds without heartbeat after which another worker '
                    'takes a task over. Must be at least 3 x '
                    'heartbeat_interval.'),
    cfg.IntOpt('max_task_takeovers', default=3, min=0,
               help='Takeovers that may resume a task; a further takeover '
                    'reverts it.'),
    cfg.IntOpt('import_lock_expiry', default=3600, min=1,
               mutable=True,
               help='Idle seconds before an import lock may be busted '
                    '(twice this for a pending task).'),
    cfg.IntOpt('staging_cleanup_interval', default=3600, min=0,
               mutable=True,
               help='Seconds between staging clean-ups; 0 cleans at worker '
                    'start only.'),
    # 2 MiB: as fast as 4 MiB into 3 stores, with a peak RSS 19 MiB lower
    # (tools/benchmark.py); 1 MiB costs ~5 % more CPU.
    cfg.IntOpt('copy_chunk_size', default=2 * 1024 * 1024, min=65536,
               help='Bytes read per chunk when streaming image data into '
                    'the stores (and the chunk size of the embedded file '
                    'stores).'),
    # One stream at a time, so larger chunks cost little memory: a stage
    # upload took 4 MiB chunks at 497 MiB/s, 2 MiB ones at 390.
    cfg.IntOpt('staging_chunk_size', default=4 * 1024 * 1024, min=65536,
               help='Bytes per read and write when image data goes into '
                    'staging: stage uploads, downloads, copies to staging, '
                    'decompression.'),
]

task_opts = [
    cfg.IntOpt('task_time_to_live', default=48, min=1,
               help='Hours a finished task stays listed.'),
]


def register(conf):
    conf.register_opts(image_import_opts, group=GROUP)
    conf.register_opts(task_opts, group=TASK_GROUP)


def validate(conf):
    """Refuse option combinations the contract forbids."""
    from importflow.common import exceptions
    opts = conf[GROUP]
    if opts.task_lease_timeout < 3 * opts.heartbeat_interval:
        raise exceptions.ConfigError(
            '[%s] task_lease_timeout (%d) must be at least 3 x '
            'heartbeat_interval (%d)' % (GROUP, opts.task_lease_timeout,
                                         opts.heartbeat_interval))


def list_opts():
    return [(GROUP, image_import_opts), (TASK_GROUP, task_opts)]
