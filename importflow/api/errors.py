"""Error responses in Glance's style.

``{"error": {"code", "title", "message"}}`` by default, which both
python-glanceclient and openstacksdk turn into the message they show (the
SDK shows nothing of a plain-text body); clients that prefer ``text/plain``
get webob's plain text ``<code> <title>\\n\\n<message>``.
"""

import json

import flask
from werkzeug import http as wz_http

PLAIN = 'text/plain'
JSON = 'application/json'


def title(code):
    return wz_http.HTTP_STATUS_CODES.get(code, 'Error')


def response(code, message, headers=None):
    plain = False
    if flask.has_request_context():
        accept = flask.request.accept_mimetypes
        plain = PLAIN in accept.values() and \
            accept.best_match([JSON, PLAIN]) == PLAIN
    if not plain:
        body = json.dumps({'error': {'code': code, 'title': title(code),
                                     'message': message}})
        mimetype = JSON
    else:
        body = '%d %s\n\n%s\n\n' % (code, title(code), message)
        mimetype = PLAIN
    resp = flask.Response(body, status=code, mimetype=mimetype)
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp
