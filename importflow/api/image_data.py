"""Image data: PUT /v2/images/{id}/stage and GET /v2/images/{id}/file.

Both stream in bounded chunks: an upload is read from ``wsgi.input`` as
the domain asks for it (chunked transfer encoding included), a download is
a generator over the store's chunks.
"""

import flask
from oslo_log import log as logging

from importflow.api import common
from importflow.common import constants as c
from importflow.common import exceptions
from importflow.common import policy
from importflow.conf import CONF
from importflow.domain import images
from importflow import stores

LOG = logging.getLogger(__name__)

bp = flask.Blueprint('image_data', __name__)

OCTET_STREAM = 'application/octet-stream'
_DOWNLOADABLE = (c.ACTIVE, c.DEACTIVATED)


class RequestBody:
    """File-like view of the request body for domain.images.stage.

    A Content-Length above ``cap`` fails the first read, before any byte is
    taken from the client; a broken upload (client gone, bad chunk framing)
    becomes a 400 so that the partial data is removed.
    """

    def __init__(self, stream, content_length, cap):
        self._stream = stream
        self._length = content_length
        self._cap = cap

    def read(self, size=-1):
        if self._length is not None and self._length > self._cap:
            raise exceptions.RequestEntityTooLarge(
                'Image size %d exceeds image_size_cap of %d bytes'
                % (self._length, self._cap))
        try:
            return self._stream.read(size)
        except exceptions.ImportflowError:
            raise
        except Exception as exc:
            raise exceptions.BadRequest('Could not read the request body: '
                                        '%s: %s' % (type(exc).__name__, exc))


def _declared_size():
    value = flask.request.headers.get('x-openstack-image-size')
    if value is None:
        return None
    try:
        size = int(value)
        if size < 0:
            raise ValueError(value)
    except ValueError:
        raise exceptions.BadRequest('x-openstack-image-size must be a '
                                    'non-negative integer, got %r' % value)
    return size


@bp.put('/v2/images/<image_id>/stage')
def stage(image_id):
    ctx = common.context()
    images.authorize_stage(ctx, image_id)         # checks 1 to 3
    if flask.request.mimetype != OCTET_STREAM:    # check 4
        raise exceptions.UnsupportedMediaType(
            'Unsupported Content-Type %s; use %s'
            % (flask.request.mimetype or '(none)', OCTET_STREAM))
    declared = _declared_size()
    body = RequestBody(flask.request.environ['wsgi.input'],
                       flask.request.content_length, CONF.image_size_cap)
    images.stage(ctx, image_id, body, declared)   # checks 5 to 10
    return common.empty_response(204)


# -------------------------------------------------------------- download

class RangeNotSatisfiable(exceptions.ImportflowError):
    code = 416

    def __init__(self, message, size):
        super().__init__(message)
        self.headers = {'Content-Range': 'bytes */%d' % size}


def _requested_range(size):
    """(start, stop) of a single-range request, or None for all."""
    if 'Range' not in flask.request.headers:
        return None
    rng = flask.request.range
    if rng is None or rng.units != 'bytes' or len(rng.ranges) != 1:
        raise RangeNotSatisfiable('Requested range %s is not supported: '
                                  'give one byte range'
                                  % flask.request.headers['Range'], size)
    bounds = rng.range_for_length(size)
    if bounds is None:
        raise RangeNotSatisfiable('Requested range %s is not satisfiable '
                                  'for %d bytes'
                                  % (flask.request.headers['Range'], size),
                                  size)
    return bounds


def _open(image, offset, length):
    """(chunks, store) from the first location that can be read."""
    errors = []
    for loc in image['locations']:
        store_id = stores.location_store(loc)
        try:
            chunks, _size = stores.get(store_id, loc['url'], offset=offset,
                                       length=length)
            return chunks, store_id
        except Exception as exc:
            LOG.warning('Image %s: cannot read location in store %s: %s',
                        image['id'], stores.store_key(store_id), exc)
            errors.append('%s: %s' % (stores.store_key(store_id), exc))
    raise exceptions.NotFound('Image data of %s could not be read from any '
                              'store (%s)' % (image['id'], '; '.join(errors)))


def _stream(chunks):
    try:
        yield from chunks
    finally:
        close = getattr(chunks, 'close', None)
        if close is not None:
            close()


@bp.get('/v2/images/<image_id>/file')
def download(image_id):
    ctx = common.context()
    image = images.get(ctx, image_id)
    if image['status'] == c.DEACTIVATED and \
            not policy.allowed(ctx, 'context_is_admin'):
        raise exceptions.Forbidden('The requested image has been '
                                   'deactivated. Image data download is '
                                   'forbidden.')
    if image['status'] not in _DOWNLOADABLE or not image['locations'] \
            or image['size'] is None:
        return common.empty_response(204)
    size = image['size']
    bounds = _requested_range(size)
    start, stop = bounds or (0, size)
    chunks, _store = _open(image, start, (stop - start) if bounds else None)
    headers = {'Content-Length': str(stop - start)}
    if bounds:
        status = 206
        headers['Content-Range'] = 'bytes %d-%d/%d' % (start, stop - 1, size)
    else:
        status = 200
        if image['checksum']:
            headers['Content-MD5'] = image['checksum']
    resp = flask.Response(_stream(chunks), status=status,
                          mimetype=OCTET_STREAM, headers=headers,
                          direct_passthrough=True)
    return resp
