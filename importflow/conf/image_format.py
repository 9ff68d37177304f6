"""[image_format]: format inspection rules."""

from oslo_config import cfg

GROUP = 'image_format'

image_format_opts = [
    cfg.BoolOpt('require_image_format_match', default=True,
                help='Fail an upload whose detected format differs from '
                     'disk_format (only logged when false).'),
    cfg.ListOpt('gpt_safety_checks_nonfatal', default=[],
                item_type=cfg.types.String(choices=['mbr', 'gptmbr']),
                help='GPT safety checks that only log when they fail.'),
    cfg.ListOpt('vmdk_allowed_types',
                default=['streamOptimized', 'monolithicSparse'],
                help='VMDK create-types accepted.'),
]


def register(conf):
    conf.register_opts(image_format_opts, group=GROUP)


def list_opts():
    return [(GROUP, image_format_opts)]
