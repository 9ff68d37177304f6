"""[api] options: the importflow-api HTTP server and its authentication."""

from oslo_config import cfg

GROUP = 'api'

api_opts = [
    cfg.HostAddressOpt('bind_host', default='127.0.0.1',
                       help='Address importflow-api listens on. The default '
                            'accepts local connections only; use 0.0.0.0 '
                            '(or ::) to serve other hosts, with '
                            'auth_strategy = keystone.'),
    cfg.PortOpt('bind_port', default=9292,
                help='TCP port importflow-api listens on.'),
    cfg.IntOpt('workers', default=1, min=1,
               help='Server processes (gunicorn workers). With the '
                    'in-process fake:// transport each process also runs '
                    'its own import worker.'),
    cfg.IntOpt('threads', default=8, min=1,
               help='Threads per server process; each serves one request '
                    'at a time (gunicorn gthread worker).'),
    cfg.IntOpt('graceful_timeout', default=30, min=1,
               help='Seconds that requests in progress get to finish after '
                    'SIGTERM before the server processes are killed.'),
    cfg.IntOpt('worker_timeout', default=120, min=1,
               help='Seconds after which a server process that stopped '
                    'responding to its supervisor is restarted. Long '
                    'uploads and downloads do not count as unresponsive.'),
    cfg.IntOpt('keepalive', default=5, min=0,
               help='Seconds an idle keep-alive connection stays open.'),
    cfg.BoolOpt('access_log', default=True,
                help='Log one line per request to standard error.'),
    cfg.StrOpt('auth_strategy', default='noauth',
               choices=[('noauth', 'Trust the X-Project-Id, X-User-Id and '
                                   'X-Roles headers; requests without them '
                                   'run as the [trusted_auth] identity. For '
                                   'development and tests only.'),
                        ('keystone', 'Validate X-Auth-Token with '
                                     'keystonemiddleware auth_token, '
                                     'configured in [keystone_authtoken].')],
               help='How requests are authenticated.'),
    cfg.IntOpt('max_json_body_size', default=65536, min=1024,
               help='Largest JSON request body in bytes (image create, '
                    'update and import requests); larger ones get 413.'),
    cfg.IntOpt('limit_param_default', default=25, min=1,
               help='Page size of image lists when the request gives no '
                    'limit.'),
    cfg.IntOpt('api_limit_max', default=1000, min=1,
               help='Largest page size of image lists; a larger limit is '
                    'reduced to this.'),
    cfg.URIOpt('public_endpoint', default=None, schemes=['http', 'https'],
               help='Base URL clients use to reach this API (for example '
                    'behind a proxy), used in version documents and '
                    'pagination links. Default: the URL of the request.'),
]


def register(conf):
    conf.register_opts(api_opts, group=GROUP)


def list_opts():
    return [(GROUP, api_opts)]
