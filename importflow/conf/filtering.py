"""[import_filtering_opts]: what web-download may reach."""

from oslo_config import cfg

GROUP = 'import_filtering_opts'

filtering_opts = [
    cfg.ListOpt('allowed_schemes', default=['http', 'https'],
                help='URL schemes allowed; when empty, disallowed_schemes '
                     'applies.'),
    cfg.ListOpt('disallowed_schemes', default=[],
                help='URL schemes refused when allowed_schemes is empty.'),
    cfg.ListOpt('allowed_hosts', default=[],
                help='Hosts allowed; when empty, disallowed_hosts applies. '
                     'A host listed here skips the address check.'),
    cfg.ListOpt('disallowed_hosts', default=[],
                help='Hosts refused when allowed_hosts is empty.'),
    cfg.ListOpt('allowed_ports', default=['80', '443'],
                item_type=cfg.types.Integer(min=1, max=65535),
                help='Ports allowed when a URL states one; when empty, '
                     'disallowed_ports applies.'),
    cfg.ListOpt('disallowed_ports', default=[],
                item_type=cfg.types.Integer(min=1, max=65535),
                help='Ports refused when allowed_ports is empty.'),
    cfg.BoolOpt('allow_private_networks', default=False,
                help='Allow loopback, private, link-local and other '
                     'non-global addresses.'),
    cfg.FloatOpt('connect_timeout', default=30, min=0.1,
                 help='Seconds to establish a connection.'),
    cfg.FloatOpt('read_timeout', default=60, min=0.1,
                 help='Longest gap in seconds between received bytes.'),
    cfg.IntOpt('max_redirects', default=10, min=0,
               help='Redirects followed at most; each target is '
                    're-validated.'),
]


def register(conf):
    conf.register_opts(filtering_opts, group=GROUP)


def list_opts():
    return [(GROUP, filtering_opts)]
