"""/v2/images: create, list, show, update (JSON-patch) and delete."""

import urllib.parse

import flask
from oslo_utils import strutils
from oslo_utils import timeutils

from importflow.api import common
from importflow.common import exceptions
from importflow.conf import CONF
from importflow.domain import images
from importflow.domain import views
from importflow import stores

bp = flask.Blueprint('images', __name__)

PATCH_V21 = 'application/openstack-images-v2.1-json-patch'
PATCH_V20 = 'application/openstack-images-v2.0-json-patch'

# Query parameters that are not property filters.
_LIST_PARAMS = {'limit', 'marker', 'sort', 'sort_key', 'sort_dir',
                'visibility', 'tag', 'size_min', 'size_max', 'created_at',
                'updated_at', 'member_status'}
_IN_FILTERS = ('id', 'name', 'status', 'owner', 'disk_format',
               'container_format', 'checksum', 'os_hash_value')
_BOOL_FILTERS = ('os_hidden', 'protected')
_TIME_OPS = ('eq', 'neq', 'gt', 'gte', 'lt', 'lte')


def image_view(record):
    return views.image(record)


def discovery_headers():
    """Headers of a 201 to POST /v2/images (import-semantics 4.1)."""
    headers = {}
    if CONF.enabled_import_methods:
        headers['OpenStack-image-import-methods'] = ','.join(
            CONF.enabled_import_methods)
    if stores.is_multi_store():
        headers['OpenStack-image-store-ids'] = ','.join(stores.store_ids())
    return headers


@bp.post('/v2/images')
def create():
    body = common.read_json()
    images.validate_create_body(body)
    image = images.create(common.context(), body)
    headers = discovery_headers()
    headers['Location'] = '%s/v2/images/%s' % (common.base_url(),
                                               image['id'])
    return common.json_response(image_view(image), 201, headers)


@bp.get('/v2/images/<image_id>')
def show(image_id):
    return common.json_response(
        image_view(images.get(common.context(), image_id)))


@bp.delete('/v2/images/<image_id>')
def delete(image_id):
    images.delete(common.context(), image_id)
    return common.empty_response(204)


# ------------------------------------------------------------------ list

def _bad(message):
    return exceptions.BadRequest(message)


def _in_values(value):
    """``in:a,b`` (Glance's "in" operator, items optionally quoted)."""
    if not value.startswith('in:'):
        return value
    items = [v.strip() for v in value[3:].split(',')]
    return [v[1:-1] if len(v) > 1 and v[0] == v[-1] == '"' else v
            for v in items]


def _integer(name, value, minimum=0):
    try:
        number = int(value)
    except ValueError:
        raise _bad("Invalid value '%s' for '%s': must be an integer"
                   % (value, name))
    if number < minimum:
        raise _bad("Invalid value '%s' for '%s': must be >= %d"
                   % (value, name, minimum))
    return number


def _boolean(name, value):
    """'protected' takes lowercase true/false only (as Glance); os_hidden
    any spelling oslo.utils knows (openstacksdk sends 'True')."""
    if name == 'os_hidden':
        try:
            return strutils.bool_from_string(value, strict=True)
        except ValueError:
            pass
    elif value in ('true', 'false'):
        return value == 'true'
    raise _bad("Invalid value '%s' for '%s' filter. Valid values are "
               "'true' or 'false'." % (value, name))


def _time_filter(name, value):
    op, _, stamp = value.partition(':')
    if op not in _TIME_OPS:
        op, stamp = 'eq', value
    try:
        when = timeutils.parse_isotime(stamp)
    except ValueError:
        raise _bad("Invalid time '%s' for '%s': use [op:]ISO 8601 with op "
                   "one of %s" % (stamp, name, ', '.join(_TIME_OPS)))
    return op, timeutils.normalize_time(when)


def _sort(args):
    sort = args.get('sort')
    keys = args.getlist('sort_key')
    dirs = args.getlist('sort_dir')
    if sort is not None:
        if keys or dirs:
            raise _bad("The 'sort' parameter cannot be combined with "
                       "'sort_key' or 'sort_dir'.")
        pairs = []
        for item in sort.split(','):
            key, _, direction = item.strip().partition(':')
            pairs.append((key.strip(), direction.strip() or 'desc'))
        return pairs
    keys = keys or ['created_at']
    if len(dirs) > 1 and len(dirs) != len(keys):
        raise _bad('Number of sort dirs does not match the number of sort '
                   'keys')
    if not dirs:
        dirs = ['desc']
    if len(dirs) == 1:
        dirs = dirs * len(keys)
    return list(zip(keys, dirs, strict=True))


def _filters(args):
    filters = {}
    for key in _IN_FILTERS:
        if key in args:
            filters[key] = _in_values(args[key])
    for key in _BOOL_FILTERS:
        if key in args:
            filters[key] = _boolean(key, args[key])
    for key in ('size_min', 'size_max'):
        if key in args:
            filters[key] = _integer(key, args[key])
    for key in ('created_at', 'updated_at'):
        if key in args:
            filters[key] = [_time_filter(key, v) for v in args.getlist(key)]
    if 'tag' in args:
        filters['tags'] = args.getlist('tag')
    properties = {key: _in_values(args[key]) for key in args
                  if key not in _LIST_PARAMS and key not in _IN_FILTERS
                  and key not in _BOOL_FILTERS}
    if properties:
        filters['properties'] = properties
    return filters


def _next_link(args, marker, limit):
    params = [(k, v) for k in args for v in args.getlist(k)
              if k not in ('marker', 'limit')]
    params += [('limit', str(limit)), ('marker', marker)]
    return '/v2/images?%s' % urllib.parse.urlencode(params)


@bp.get('/v2/images')
def index():
    args = flask.request.args
    limit = CONF.api.limit_param_default
    if 'limit' in args:
        limit = _integer('limit', args['limit'])
    limit = min(limit, CONF.api.api_limit_max)
    found, next_marker = images.list_images(
        common.context(), filters=_filters(args), sort=_sort(args),
        limit=limit, marker=args.get('marker'),
        visibility=args.get('visibility'))
    body = {'images': [image_view(i) for i in found],
            'first': '/v2/images', 'schema': '/v2/schemas/images'}
    if next_marker:
        body['next'] = _next_link(args, next_marker, limit)
    return common.json_response(body)


# ----------------------------------------------------------------- patch

def _decode_pointer(path):
    """Top-level attribute named by a JSON pointer ("/name")."""
    if not isinstance(path, str) or not path.startswith('/'):
        raise _bad("Invalid path '%s': a JSON pointer such as '/name' is "
                   "expected" % (path,))
    parts = [p.replace('~1', '/').replace('~0', '~')
             for p in path[1:].split('/')]
    if not parts[0]:
        raise _bad("Invalid path '%s'" % path)
    if len(parts) > 1 and parts[0] != 'locations':
        raise _bad('Nested paths are not allowed')
    return parts[0]


def _changes(body, v21):
    if not isinstance(body, list):
        raise _bad('Request body must be a JSON array of operation objects.')
    changes = []
    for item in body:
        if not isinstance(item, dict):
            raise _bad('Operations must be JSON objects.')
        if v21:
            op, path = item.get('op'), item.get('path')
            if op is None or path is None:
                raise _bad("Operation objects must contain 'op' and 'path' "
                           "members.")
        else:
            named = [k for k in images.PATCH_OPS if k in item]
            if len(named) != 1:
                raise _bad('Operation objects must contain exactly one '
                           'member named "add", "remove", or "replace".')
            op = named[0]
            path = item[op]
        if op not in images.PATCH_OPS:
            raise _bad("Invalid operation: '%s'" % (op,))
        if op != 'remove' and 'value' not in item:
            raise _bad("Operation '%s' requires a member named 'value'."
                       % op)
        changes.append((op, _decode_pointer(path), item.get('value')))
    return changes


class UnsupportedPatchType(exceptions.UnsupportedMediaType):
    headers = {'Accept-Patch': '%s, %s' % (PATCH_V21, PATCH_V20)}


@bp.patch('/v2/images/<image_id>')
def update(image_id):
    mimetype = flask.request.mimetype
    if mimetype not in (PATCH_V21, PATCH_V20):
        raise UnsupportedPatchType(
            'Unsupported Content-Type %s; use %s' % (mimetype or '(none)',
                                                     PATCH_V21))
    changes = _changes(common.read_json(), mimetype == PATCH_V21)
    image = images.patch(common.context(), image_id, changes,
                         add_replaces=mimetype == PATCH_V21)
    return common.json_response(image_view(image))
