"""oslo-config-generator entry point: every option of importflow."""

import itertools

from importflow.conf import api
from importflow.conf import database
from importflow.conf import default
from importflow.conf import filtering
from importflow.conf import image_format
from importflow.conf import image_import
from importflow.conf import worker
from importflow.plugins import image_conversion
from importflow.plugins import image_decompression
from importflow.plugins import inject_metadata


def list_opts():
    return [
        ('DEFAULT', default.list_opts()),
    ] + list(itertools.chain(
        default.list_group_opts(),
        api.list_opts(),
        database.list_opts(),
        image_import.list_opts(),
        filtering.list_opts(),
        image_format.list_opts(),
        worker.list_opts(),
        image_conversion.list_opts(),
        image_decompression.list_opts(),
        inject_metadata.list_opts(),
    ))
