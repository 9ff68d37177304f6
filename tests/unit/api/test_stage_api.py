"""PUT /v2/images/{id}/stage: the checks of import-semantics 4.2 in order,
as HTTP codes, and streaming (chunked bodies, bounded reads)."""

import io

import pytest

from importflow.conf import CONF
from importflow.stores import staging
from tests.unit.api.conftest import ALICE
from tests.unit.api.conftest import BOB
from tests.unit.api.conftest import message

OCTET = {'Content-Type': 'application/octet-stream'}


class CountingStream(io.BytesIO):
    """A request body that records how much of it the server read."""

    def __init__(self, data):
        super().__init__(data)
        self.max_read = 0
        self.consumed = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.consumed += len(chunk)
        self.max_read = max(self.max_read, len(chunk))
        return chunk


def _put(api, image_id, stream, headers=None, length=True):
    hdrs = dict(OCTET)
    hdrs.update(headers or {})
    if not length:
        hdrs['Transfer-Encoding'] = 'chunked'
        return api.http.put('/v2/images/%s/stage' % image_id,
                            input_stream=stream, headers=hdrs)
    data = stream.getvalue()
    return api.http.put('/v2/images/%s/stage' % image_id, data=data,
                        headers=hdrs)


_text = message


def _assert_queued_and_clean(api, env, image_id):
    image = api.show(image_id)
    assert image['status'] == 'queued'
    assert image['size'] is None
    assert env.staging_files() == []


def test_chunked_upload_streams_in_bounded_reads(api, env):
    data = b'0123456789' * (1024 * 1024)          # 10 MiB
    image = api.create()
    stream = CountingStream(data)
    resp = _put(api, image['id'], stream, length=False)
    assert resp.status_code == 204, _text(resp)
    assert resp.get_data() == b''
    assert stream.consumed == len(data)
    assert stream.max_read <= CONF.image_import_opts.staging_chunk_size
    shown = api.show(image['id'])
    assert shown['status'] == 'uploading'
    assert shown['size'] == len(data)
    with open(staging.path(image['id']), 'rb') as f:
        assert f.read() == data


def test_glance_direct_disabled_is_404_first(api):
    image = api.create()
    CONF.set_override('enabled_import_methods', ['web-download'])
    resp = _put(api, image['id'], io.BytesIO(b'x'),
                headers={'Content-Type': 'text/plain'})
    assert resp.status_code == 404
    assert 'glance-direct' in _text(resp)


def test_missing_or_invisible_image_is_404(api):
    resp = _put(api, '00000000-0000-0000-0000-000000000000',
                io.BytesIO(b'x'))
    assert resp.status_code == 404
    private = api.create(headers=ALICE, visibility='private')
    resp = _put(api, private['id'], io.BytesIO(b'x'), headers=BOB)
    assert resp.status_code == 404


def test_policy_is_checked_before_the_media_type(api, env):
    image = api.create(headers=ALICE, visibility='public')
    resp = _put(api, image['id'], io.BytesIO(b'x'),
                headers=dict(BOB, **{'Content-Type': 'text/plain'}))
    assert resp.status_code == 403
    _assert_queued_and_clean(api, env, image['id'])


@pytest.mark.parametrize('content_type', ['text/plain', 'application/json',
                                          None])
def test_media_type_is_checked_before_the_status(api, content_type):
    image = api.active_image(b'a' * 100)
    headers = {'Content-Type': content_type} if content_type else {}
    resp = api.http.put('/v2/images/%s/stage' % image['id'], data=b'x',
                        headers=headers)
    assert resp.status_code == 415
    assert 'application/octet-stream' in _text(resp)


def test_status_not_queued_is_409(api, env):
    image_id = api.staged_image(b'first')
    resp = _put(api, image_id, io.BytesIO(b'second'))
    assert resp.status_code == 409
    assert api.show(image_id)['size'] == 5


def test_existing_staged_data_is_409(api, env):
    image = api.create()
    with open(staging.path(image['id']), 'wb') as f:
        f.write(b'left over')
    resp = _put(api, image['id'], io.BytesIO(b'new'))
    assert resp.status_code == 409
    assert 'already has staged data' in _text(resp)
    assert api.show(image['id'])['status'] == 'queued'


def test_declared_size_above_cap_is_413_before_reading(api, env):
    CONF.set_override('image_size_cap', 1000)
    image = api.create()
    stream = CountingStream(b'x' * 10)
    resp = _put(api, image['id'], stream, length=False,
                headers={'x-openstack-image-size': '1001'})
    assert resp.status_code == 413
    assert 'image_size_cap of 1000' in _text(resp)
    assert stream.consumed == 0
    _assert_queued_and_clean(api, env, image['id'])


def test_content_length_above_cap_is_413_before_reading(api, env):
    CONF.set_override('image_size_cap', 1000)
    image = api.create()
    resp = _put(api, image['id'], io.BytesIO(b'x' * 1001))
    assert resp.status_code == 413
    assert 'exceeds image_size_cap of 1000' in _text(resp)
    _assert_queued_and_clean(api, env, image['id'])


def test_stream_past_cap_is_413_and_removes_partial_data(api, env):
    CONF.set_override('image_size_cap', 100 * 1024)
    image = api.create()
    resp = _put(api, image['id'], io.BytesIO(b'y' * (100 * 1024 + 1)),
                length=False)
    assert resp.status_code == 413
    assert 'image_size_cap' in _text(resp)
    _assert_queued_and_clean(api, env, image['id'])


def test_exactly_the_cap_is_accepted(api, env):
    CONF.set_override('image_size_cap', 100 * 1024)
    image = api.create()
    resp = _put(api, image['id'], io.BytesIO(b'y' * (100 * 1024)),
                length=False)
    assert resp.status_code == 204
    assert api.show(image['id'])['size'] == 100 * 1024


def test_byte_count_differing_from_declared_size_is_400(api, env):
    image = api.create()
    resp = _put(api, image['id'], io.BytesIO(b'12345'),
                headers={'x-openstack-image-size': '10'})
    assert resp.status_code == 400
    assert 'declared 10' in _text(resp)
    _assert_queued_and_clean(api, env, image['id'])


def test_invalid_declared_size_is_400(api, env):
    image = api.create()
    resp = _put(api, image['id'], io.BytesIO(b'12345'),
                headers={'x-openstack-image-size': 'many'})
    assert resp.status_code == 400
    _assert_queued_and_clean(api, env, image['id'])


class BrokenStream(io.BytesIO):
    def read(self, size=-1):
        if self.tell() > 0:
            raise OSError('client went away')
        return super().read(size)


def test_broken_upload_is_400_and_leaves_nothing(api, env):
    image = api.create()
    resp = _put(api, image['id'], BrokenStream(b'z' * (8 * 1024 * 1024)),
                length=False)
    assert resp.status_code == 400
    assert 'client went away' in _text(resp)
    _assert_queued_and_clean(api, env, image['id'])
