"""JSON views of images and tasks, as the Image API v2 shows them."""

from importflow.common import constants as c
from importflow.common import utils
from importflow import stores

_CORE = ('id', 'name', 'status', 'visibility', 'owner', 'disk_format',
         'container_format', 'size', 'virtual_size', 'checksum',
         'os_hash_algo', 'os_hash_value', 'min_disk', 'min_ram', 'protected',
         'os_hidden')


def image(record, admin=False):
    view = {key: record[key] for key in _CORE}
    view['created_at'] = utils.isotime(record['created_at'])
    view['updated_at'] = utils.isotime(record['updated_at'])
    view['tags'] = list(record['tags'])
    for name, value in record['properties'].items():
        if name not in c.HIDDEN_PROPERTIES:
            view[name] = value
    view['self'] = '/v2/images/%s' % record['id']
    view['file'] = '/v2/images/%s/file' % record['id']
    view['schema'] = '/v2/schemas/image'
    if stores.is_multi_store() and record['locations']:
        view['stores'] = ','.join(loc['store'] for loc in record['locations'])
    if admin:
        view['locations'] = [{'url': loc['url'],
                              'metadata': dict(loc['meta_data'] or {})}
                             for loc in record['locations']]
    return view


def task(record):
    return {
        'id': record['id'], 'type': record['type'],
        'status': record['status'], 'owner': record['owner'],
        'user_id': record['user_id'], 'request_id': record['request_id'],
        'image_id': record['image_id'], 'input': record['input'],
        'result': record['result'], 'message': record['message'],
        'progress': record['progress'], 'attempt': record['attempt'],
        'created_at': utils.isotime(record['created_at']),
        'updated_at': utils.isotime(record['updated_at']),
        'expires_at': utils.isotime(record['expires_at']),
        'started_at': utils.isotime(record['started_at']),
        'schema': '/v2/schemas/task',
    }
