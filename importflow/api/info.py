"""Discovery (/v2/info/...) and the JSON schemas (/v2/schemas/...)."""

import flask

from importflow.api import common
from importflow.api import schemas
from importflow.common import exceptions
from importflow.common import policy
from importflow.conf import CONF
from importflow import stores

bp = flask.Blueprint('info', __name__)


@bp.get('/v2/info/import')
def import_info():
    return common.json_response({'import-methods': {
        'description': 'Import methods available.',
        'type': 'array',
        'value': list(CONF.enabled_import_methods)}})


def _store_views(detail):
    if not stores.is_multi_store():
        raise exceptions.NotFound('Multi backend is not supported at this '
                                  'site.')
    views = []
    for store_id in stores.store_ids():
        info = stores.describe(store_id)
        view = {'id': info['id']}
        if info.get('description'):
            view['description'] = info['description']
        if info['default']:
            view['default'] = 'true'
        if info['read-only']:
            view['read-only'] = 'true'
        if detail:
            view.update(type=info['type'], weight=info['weight'],
                        properties=info['properties'])
        views.append(view)
    return {'stores': views}


@bp.get('/v2/info/stores')
def stores_info():
    return common.json_response(_store_views(detail=False))


@bp.get('/v2/info/stores/detail')
def stores_detail():
    policy.authorize(common.context(), 'stores_info_detail')
    return common.json_response(_store_views(detail=True))


@bp.get('/v2/schemas/image')
def image_schema():
    return common.json_response(schemas.image())


@bp.get('/v2/schemas/images')
def images_schema():
    return common.json_response(schemas.images_())


@bp.get('/v2/schemas/task')
def task_schema():
    return common.json_response(schemas.task())


@bp.get('/v2/schemas/tasks')
def tasks_schema():
    return common.json_response(schemas.tasks())
