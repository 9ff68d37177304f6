"""Small helpers with no better home."""

import datetime
import socket
import os


def utcnow():
    """Naive UTC timestamp, as stored in the database."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def isotime(value):
    return value.strftime('%Y-%m-%dT%H:%M:%SZ') if value else None


def default_worker_id():
    return '%s:%d' % (socket.gethostname(), os.getpid())


def join_sorted(values):
    """Format a store set as the contract's sorted, comma-joined string."""
    return ','.join(sorted(set(v for v in values if v)))


def split_list(value):
    return [v for v in (value or '').split(',') if v]
