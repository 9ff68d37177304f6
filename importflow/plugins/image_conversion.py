"""image_conversion: convert the staged image with qemu-img."""

from oslo_config import cfg

from importflow.conf import CONF

GROUP = 'image_conversion'

conversion_opts = [
    cfg.StrOpt('output_format', default='raw',
               choices=['raw', 'qcow2', 'vmdk'],
               help='Disk format images are converted to.'),
]
CONF.register_opts(conversion_opts, group=GROUP)


def list_opts():
    return [(GROUP, conversion_opts)]
