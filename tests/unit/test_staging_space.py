"""Staging disk space is checked before a stage of known size starts
(issue 5, import-semantics 4.2 check 9).

Mounts a small tmpfs over the staging folder as tests/unit/test_full_disk.py
does; needs root (the CI machine runs as root), else skips with the reason.
"""

import io
import os
import shutil
import subprocess

import pytest

from importflow.common import constants as c
from importflow.common import exceptions
from importflow import stores

MiB = 1024 * 1024


@pytest.fixture
def small_staging(env):
    if os.geteuid() != 0:
        pytest.skip('mounting a small tmpfs needs root')
    path = stores.staging_dir()
    result = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=2m',
                             'tmpfs', path], capture_output=True, text=True)
    if result.returncode:
        pytest.skip('cannot mount tmpfs here: %s' % result.stderr)
    yield path
    subprocess.run(['umount', '-l', path], check=False)


class _Unread(io.RawIOBase):
    """A body that must not be read: the check comes before streaming."""

    def readable(self):
        return True

    def read(self, size=-1):
        raise AssertionError('stage read data after the space check')


def test_known_size_above_free_space_is_refused_before_streaming(
        client, env, small_staging):
    image = client.create_image(name='s', disk_format='raw',
                                container_format='bare')
    free = shutil.disk_usage(small_staging).free
    needed = 3 * MiB
    assert needed > free
    with pytest.raises(exceptions.RequestEntityTooLarge) as info:
        client.stage(image['id'], _Unread(), size=needed)
    assert info.value.code == 413
    assert str(info.value) == ('Staging area has %d bytes free, image needs '
                               '%d' % (free, needed))
    shown = client.show_image(image['id'])
    assert shown['status'] == c.QUEUED
    assert shown['size'] is None
    assert os.listdir(small_staging) == []


def test_known_size_that_fits_is_staged(client, env, small_staging):
    image = client.create_image(name='s', disk_format='raw',
                                container_format='bare')
    data = os.urandom(MiB)
    client.stage(image['id'], io.BytesIO(data), size=len(data))
    shown = client.show_image(image['id'])
    assert shown['status'] == c.UPLOADING
    assert shown['size'] == len(data)
    assert os.listdir(small_staging) == [image['id']]


def test_unknown_size_still_hits_the_full_disk_while_streaming(
        client, env, small_staging):
    image = client.create_image(name='s', disk_format='raw',
                                container_format='bare')
    with pytest.raises(exceptions.RequestEntityTooLarge) as info:
        client.stage(image['id'], io.BytesIO(os.urandom(3 * MiB)))
    assert 'Staging area is full' in str(info.value)
    assert client.show_image(image['id'])['status'] == c.QUEUED
    assert os.listdir(small_staging) == []


def test_api_answers_413_before_reading_the_body(env, tmp_path,
                                                  small_staging):
    from importflow.api import app as api_app
    app = api_app.create_app()
    app.testing = True
    http = app.test_client()
    resp = http.post('/v2/images', json={'disk_format': 'raw',
                                         'container_format': 'bare'})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    image_id = resp.get_json()['id']
    resp = http.put('/v2/images/%s/stage' % image_id,
                    data=b'x' * 1024,
                    headers={'Content-Type': 'application/octet-stream',
                             'x-openstack-image-size': str(3 * MiB)})
    assert resp.status_code == 413
    assert 'Staging area has' in resp.get_json()['error']['message']
    shown = http.get('/v2/images/%s' % image_id).get_json()
    assert shown['status'] == c.QUEUED
    assert os.listdir(small_staging) == []
