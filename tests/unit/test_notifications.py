"""Notifications of an import (import-semantics section 15)."""

import pytest
from oslo_messaging.notify import _impl_test

from importflow.common import constants as c
from importflow.conf import CONF
from importflow.rpc import notifier


@pytest.fixture
def notifications(env):
    """Send notifications to oslo.messaging's in-memory test driver."""
    CONF.set_override('driver', ['test'],
                      group='oslo_messaging_notifications')
    notifier._NOTIFIER.clear()
    _impl_test.reset()
    yield lambda: [(m['event_type'], m['priority'], m['payload'])
                   for _ctx, m, _prio, _retry in _impl_test.NOTIFICATIONS]
    CONF.clear_override('driver', group='oslo_messaging_notifications')
    notifier._NOTIFIER.clear()


def _events(sent):
    return [(event, priority) for event, priority, _ in sent]


def test_successful_import_sequence(notifications, client, env):
    image_id, _data = env.staged_image(client)
    task = client.import_image(image_id, stores_=['fast', 'cheap'])
    client.wait(task['id'], timeout=30)
    sent = notifications()
    events = _events(sent)
    assert events[:2] == [('task.create', 'INFO'),
                          ('task.processing', 'INFO')]
    assert events[-1] == ('task.success', 'INFO')
    assert events.count(('image.prepare', 'INFO')) == 2
    assert events.count(('image.upload', 'INFO')) == 2
    assert events.count(('image.activate', 'INFO')) == 1
    # activation comes after every upload when all stores must succeed
    assert events.index(('image.activate', 'INFO')) > max(
        i for i, e in enumerate(events) if e[0] == 'image.upload')
    uploads = [p for e, _, p in sent if e == 'image.upload']
    assert sorted(p['backend'] for p in uploads) == ['cheap', 'fast']
    payload = uploads[0]
    assert payload['id'] == image_id
    assert isinstance(payload[c.PROP_IMPORTING_TO], list)
    assert isinstance(payload[c.PROP_FAILED_IMPORT], list)
    end = sent[-1][2]
    assert end['id'] == task['id'] and end['status'] == c.TASK_SUCCESS


def test_failed_store_sends_an_error(notifications, client, env):
    image_id, _data = env.staged_image(client)
    env.break_store('cheap')
    task = client.import_image(image_id, stores_=['cheap'])
    client.wait(task['id'], timeout=30)
    sent = notifications()
    errors = [(e, p) for e, prio, p in sent if prio == 'ERROR']
    assert [e for e, _ in errors] == ['image.upload']
    assert errors[0][1]['backend'] == 'cheap'
    assert 'NotADirectoryError' in errors[0][1]['error'] or \
        errors[0][1]['error']
    assert _events(sent)[-1] == ('task.failure', 'INFO')
    assert ('image.activate', 'INFO') not in _events(sent)


def test_no_driver_sends_nothing(env, client):
    notifier._NOTIFIER.clear()
    _impl_test.reset()
    image_id, _data = env.staged_image(client)
    client.wait(client.import_image(image_id)['id'], timeout=30)
    assert _impl_test.NOTIFICATIONS == []
