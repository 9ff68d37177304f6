"""importflow-worker as a service: processes, reload, one task per image."""

import signal
import threading

from tests.functional.conftest import wait_for


def test_workers_option_starts_processes_and_sighup_reloads(deployment):
    proc = deployment.start_worker('w', '--workers', '2')
    log = deployment.root / 'w.log'
    wait_for(lambda: log.read_text().count(' started') >= 2, 30,
             what='two worker processes')
    deployment.write_config(worker={'reaper_interval': 7},
                            image_import_opts={'max_parallel_stores': 2})
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: log.read_text().count(
        'reaper_interval=7, max_parallel_stores=2') == 2, 30,
        what='both processes to log the reload')


def test_concurrent_requests_make_one_task(deployment, tmp_path):
    data = tmp_path / 'd.raw'
    data.write_bytes(b'z' * 65536)
    image = deployment.cli_json('image', 'create', '--name', 'c',
                                '--disk-format', 'raw')
    deployment.cli('image', 'stage', image['id'], str(data))
    results = []

    def request():
        results.append(deployment.cli('image', 'import', image['id'],
                                      '--no-wait', check=False))

    threads = [threading.Thread(target=request) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results if r.returncode == 0]
    lost = [r for r in results if r.returncode != 0]
    assert len(won) == 1, [r.stderr for r in results]
    for r in lost:
        assert ('Image has active task' in r.stderr or 'prior operation is '
                'still in progress' in r.stderr or 'needs to be staged'
                in r.stderr), r.stderr
    tasks = deployment.cli_json('task', 'list', '--image', image['id'])
    assert len(tasks) == 1
