"""Image and task rows on the real database servers: an image comes back
with its properties, tags and locations (read in one query whose casts
differ per dialect), alone and in a list page; a task claim and finish
return the row they wrote (UPDATE ... RETURNING where the server has it);
a lone statement runs without a transaction on PostgreSQL, and the pooled
connection it used is transactional again afterwards."""

import uuid

import pytest
import sqlalchemy as sa

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


def test_a_heartbeat_renews_the_owners_lease_and_hears_a_stop(database):
    image_id = _image()
    task_id = str(uuid.uuid4())
    db.task_create_locked({'id': task_id, 'type': 'api_image_import',
                           'image_id': image_id, 'input': {}}, ['queued'])
    claimed = db.task_claim(task_id, 'worker-a', 5)
    assert db.task_heartbeat(task_id, 'worker-a', 600, progress={'p': 1},
                             message='Copied 1 MiB') == (True, None)
    task = db.task_get(task_id)
    assert task['lease_expires_at'] > claimed['lease_expires_at']
    assert (task['progress'], task['message']) == ({'p': 1}, 'Copied 1 MiB')
    assert db.task_request_stop(task_id, 'aborted by admin')
    assert db.task_heartbeat(task_id, 'worker-a', 600) == (
        True, 'aborted by admin')
    assert db.task_heartbeat(task_id, 'worker-b', 600) == (False, None)
    assert db.task_get(task_id)['lease_owner'] == 'worker-a'


def test_a_connection_is_transactional_after_a_lone_statement(database):
    image_id = _image()
    engine = db.get_engine()
    engine.dispose()
    with db.single_statement() as conn:
        conn.execute(sa.text("UPDATE images SET name = 'one' WHERE id = :id"),
                     {'id': image_id})
    assert engine.pool.checkedin() == 1   # the next checkout gets it back
    with pytest.raises(RuntimeError):
        with db.transaction() as conn:
            conn.execute(sa.text("UPDATE images SET name = 'two' "
                                 "WHERE id = :id"), {'id': image_id})
            raise RuntimeError('fails after its first write')
    assert db.image_get(image_id)['name'] == 'one'
