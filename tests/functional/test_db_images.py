"""Image and task rows on the real database servers: an image comes back
with its properties, tags and locations (read in one query whose casts
differ per dialect), alone and in a list page; a task claim and finish
return the row they wrote (UPDATE ... RETURNING where the server has it)."""

import uuid

import pytest

from importflow import conf as importflow_conf
from importflow.db import api as db
from importflow.db import migration
from tests import conftest as unit_conftest


@pytest.fixture(params=['pg_url', 'mysql_url'])
def database(request, tmp_path):
    url = request.getfixturevalue(request.param)
    unit_conftest._reset_process_state()
    config = tmp_path / 'importflow.conf'
    config.write_text('[DEFAULT]\nstate_path = %s\n[database]\n'
                      'connection = %s\n' % (tmp_path, url))
    importflow_conf.parse_args(['--config-file', str(config)])
    migration.sync()
    yield url
    unit_conftest._reset_process_state()


def _image(**properties):
    image_id = str(uuid.uuid4())
    db.image_create({'id': image_id, 'name': 'n', 'status': 'queued'},
                    properties=properties, tags_=['zeta', 'alpha'])
    return image_id


def test_an_image_comes_back_whole(database):
    image_id = _image(os_distro='debian', note='x, y')
    task_id = str(uuid.uuid4())
    for store in ('second', 'first'):
        db.image_save(image_id, add_location={
            'store': store, 'url': 'file:///%s/%s' % (store, image_id),
            'meta_data': {'store': store, 'n': [1, 2]}})
    db.image_save(image_id, add_to_lists={'os_glance_importing_to_stores':
                                          ['b', 'a']},
                  set_props={'owner_task': task_id})
    image = db.image_get(image_id)
    assert image['properties'] == {
        'os_distro': 'debian', 'note': 'x, y', 'owner_task': task_id,
        'os_glance_importing_to_stores': 'a,b'}
    assert image['tags'] == ['alpha', 'zeta']
    # completion order, meta_data as written
    assert [(loc['store'], loc['meta_data'], loc['task_id'])
            for loc in image['locations']] == [
        ('second', {'store': 'second', 'n': [1, 2]}, None),
        ('first', {'store': 'first', 'n': [1, 2]}, None)]
    other = _image()
    page, _more = db.image_list_page(sort=(('name', 'asc'), ('id', 'asc')))
    listed = {i['id']: i for i in page}
    assert listed[image_id] == image
    assert listed[other]['locations'] == []
    assert listed[other]['properties'] == {}


def test_claim_and_finish_return_the_task_they_wrote(database):
    image_id = _image()
    task_id = str(uuid.uuid4())
    db.task_create_locked({'id': task_id, 'type': 'api_image_import',
                           'image_id': image_id, 'input': {'n': [1]}},
                          ['queued'])
    claimed = db.task_claim(task_id, 'worker-a', 60)
    assert (claimed['status'], claimed['lease_owner'], claimed['attempt'],
            claimed['input']) == ('processing', 'worker-a', 1, {'n': [1]})
    assert claimed['lease_expires_at'] > claimed['started_at']
    assert db.task_claim(task_id, 'worker-b', 60) is None
    assert db.task_finish(task_id, 'worker-b', 'success', 'm', {}, {}) \
        is None
    assert db.lock_holder(image_id) == task_id
    done = db.task_finish(task_id, 'worker-a', 'success', 'done',
                          {'image_id': image_id}, {'phase': 'done'})
    assert (done['status'], done['message'], done['result'],
            done['progress'], done['lease_expires_at']) == (
        'success', 'done', {'image_id': image_id}, {'phase': 'done'}, None)
    assert db.task_get(task_id) == done
    assert db.lock_holder(image_id) is None


def test_a_claim_after_the_lease_expired_is_a_takeover(database):
    image_id = _image()
    task_id = str(uuid.uuid4())
    db.task_create_locked({'id': task_id, 'type': 'api_image_import',
                           'image_id': image_id, 'input': {}}, ['queued'])
    assert db.task_claim(task_id, 'worker-a', -1)['attempt'] == 1
    taken = db.task_claim(task_id, 'worker-b', 60)
    assert (taken['lease_owner'], taken['attempt']) == ('worker-b', 2)
