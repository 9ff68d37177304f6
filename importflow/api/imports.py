"""Import requests, their abort, and the tasks of an image."""

import flask

from importflow.api import common
from importflow.domain import imports
from importflow.domain import tasks
from importflow.domain import views

bp = flask.Blueprint('imports', __name__)


@bp.post('/v2/images/<image_id>/import')
def start(image_id):
    body = common.read_json(allow_empty=True)
    imports.accept(common.context(), image_id, body,
                   store_header=flask.request.headers.get(
                       'X-Image-Meta-Store'))
    return common.empty_response(202)


@bp.delete('/v2/images/<image_id>/import')
def abort(image_id):
    tasks.abort(common.context(), image_id)
    return common.empty_response(202)


@bp.get('/v2/images/<image_id>/tasks')
def image_tasks(image_id):
    found = tasks.list_for_image(common.context(), image_id)
    return common.json_response({'tasks': [views.task(t) for t in found],
                                 'schema': '/v2/schemas/tasks'})
