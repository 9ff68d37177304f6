"""image_decompression: unpack gzip, zip, xz and bzip2 staged data."""

from oslo_config import cfg

from importflow.conf import CONF

GROUP = 'image_decompression'

decompression_opts = [
    cfg.IntOpt('max_compression_ratio', default=1000, min=0,
               help='Largest output/input size ratio; 0 = no ratio limit '
                    '(image_size_cap still applies).'),
]
CONF.register_opts(decompression_opts, group=GROUP)


def list_opts():
    return [(GROUP, decompression_opts)]
