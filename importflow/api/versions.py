"""GET / and GET /versions: the version document clients discover v2 by."""

import flask

from importflow.api import common

bp = flask.Blueprint('versions', __name__)

CURRENT = 'v2.16'
# Glance's v2 minor versions; the import API exists since v2.6, stores
# since v2.8, image tasks since v2.12.
SUPPORTED = ['v2.%d' % minor for minor in range(15, -1, -1)]


def document():
    link = [{'rel': 'self', 'href': '%s/v2/' % common.base_url()}]
    versions = [{'id': CURRENT, 'status': 'CURRENT', 'links': link}]
    versions += [{'id': v, 'status': 'SUPPORTED', 'links': link}
                 for v in SUPPORTED]
    return {'versions': versions}


@bp.get('/')
def root():
    # Glance answers the unversioned root with 300 Multiple Choices.
    return common.json_response(document(), 300)


@bp.get('/versions')
def versions():
    return common.json_response(document())
