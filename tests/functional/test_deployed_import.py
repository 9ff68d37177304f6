"""An import through RabbitMQ, PostgreSQL and a separate worker process."""

import hashlib
import os


def test_cli_import_runs_on_separate_worker(deployment, tmp_path):
    deployment.start_worker('worker-1')
    data = os.urandom(5 * 1024 * 1024 + 17)
    source = tmp_path / 'disk.raw'
    source.write_bytes(data)
    out = deployment.cli_json('import', str(source), '--all-stores')
    image, task = out['image'], out['task']
    assert task['status'] == 'success', task['message']
    assert image['status'] == 'active'
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
    assert sorted(image['stores'].split(',')) == sorted(deployment.STORES)
    for store_id in deployment.STORES:
        stored = deployment.store_dir(store_id) / image['id']
        assert stored.read_bytes() == data
    assert os.listdir(tmp_path / 'staging') == []
    shown = deployment.cli_json('task', 'show', task['id'])
    assert shown['result']['stores'] == {
        s: {'status': 'active', 'size': len(data)}
        for s in deployment.STORES}
