"""Helpers shared by the request handlers."""

import json

import flask

from importflow.api import context as api_context
from importflow.common import exceptions
from importflow.conf import CONF

JSON = 'application/json'


def context():
    """The caller's RequestContext, built on first use (version discovery
    never builds one, so it works without credentials)."""
    if 'context' not in flask.g:
        flask.g.context = api_context.from_environ(flask.request.environ,
                                                   CONF.api.auth_strategy)
    return flask.g.context


def base_url():
    """Scheme, host and port clients reach us at, without a trailing /."""
    return (CONF.api.public_endpoint or flask.request.host_url).rstrip('/')


def json_response(body, status=200, headers=None):
    resp = flask.Response(json.dumps(body), status=status, mimetype=JSON)
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def empty_response(status):
    """A response without a body (204, and Glance's empty 202)."""
    resp = flask.Response(b'', status=status)
    del resp.headers['Content-Type']
    return resp


def read_json(allow_empty=False):
    """The request body as JSON, read in bounded memory.

    :raises: RequestEntityTooLarge above [api] max_json_body_size,
        BadRequest for malformed JSON.
    """
    limit = CONF.api.max_json_body_size
    length = flask.request.content_length
    if length is not None and length > limit:
        raise exceptions.RequestEntityTooLarge(
            'Request body of %d bytes exceeds the limit of %d bytes'
            % (length, limit))
    stream = flask.request.environ['wsgi.input']
    want = limit + 1 if length is None else length
    chunks, size = [], 0
    while size < want:
        chunk = stream.read(min(65536, want - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise exceptions.RequestEntityTooLarge(
            'Request body exceeds the limit of %d bytes' % limit)
    raw = b''.join(chunks)
    if not raw.strip():
        if allow_empty:
            return None
        raise exceptions.BadRequest('Body expected in request.')
    try:
        return json.loads(raw)
    except ValueError:
        raise exceptions.BadRequest('Malformed JSON in request body.')
