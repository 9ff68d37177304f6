import hashlib

import sqlalchemy as sa

from importflow.common import constants as c
from importflow.db import api as db


def test_three_stores_hold_identical_bytes_and_hashes(client, env):
    image_id, data = env.staged_image(client, 3 * 1024 * 1024)
    task = client.import_image(image_id, all_stores=True)
    task = client.wait(task['id'], timeout=60)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image_id)
    assert image['status'] == c.ACTIVE
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['os_hash_algo'] == 'sha512'
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
    assert image['size'] == len(data) == image['virtual_size']
    assert sorted(loc['store'] for loc in image['locations']) == \
        sorted(['fast', 'cheap', 'backup'])
    for store_id in ('fast', 'cheap', 'backup'):
        assert (env.store_dir(store_id) / image_id).read_bytes() == data
    assert c.PROP_IMPORT_TASK not in image['properties']
    assert image['properties'][c.PROP_IMPORTING_TO] == ''
    assert image['properties'][c.PROP_FAILED_IMPORT] == ''
    assert env.staging_files() == []
    assert task['result'] == {'image_id': image_id, 'stores': {
        s: {'status': 'active', 'size': len(data)}
        for s in ('fast', 'cheap', 'backup')}}
    assert task['message'] == 'Copied 9 MiB'


def _flow_rows():
    with db.get_engine().connect() as conn:
        return {table: conn.execute(sa.text(
            'SELECT COUNT(*) FROM %s' % table)).scalar()
            for table in ('logbooks', 'flowdetails', 'atomdetails')}


def test_a_finished_import_leaves_no_flow_behind(client, env):
    # The flow goes in the task's final transaction: its atoms with it.
    nothing = {'logbooks': 0, 'flowdetails': 0, 'atomdetails': 0}
    image_id, _data = env.staged_image(client)
    task = client.wait(client.import_image(image_id)['id'], timeout=60)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    assert _flow_rows() == nothing
    env.break_store('fast')
    image_id, _data = env.staged_image(client)
    task = client.wait(client.import_image(image_id, stores_=['fast'])['id'],
                       timeout=60)
    assert task['status'] == c.TASK_FAILURE
    assert _flow_rows() == nothing
