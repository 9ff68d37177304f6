"""How the CLI shows records: JSON for machines, tables and a live
progress display for people."""

import json
import sys

from rich.console import Console
from rich import progress as rich_progress
from rich.table import Table

from importflow.common import constants as c

console = Console()
err_console = Console(stderr=True)


def error(message):
    """One unwrapped line on stderr: people and scripts grep these."""
    err_console.print(message, soft_wrap=True, markup=False,
                      highlight=False)


def print_json(data):
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str)
                     + '\n')


def print_record(record, fmt):
    """One record as JSON or as a two-column table."""
    if fmt == 'json':
        print_json(record)
        return
    table = Table(show_header=True, header_style='bold')
    table.add_column('Field')
    table.add_column('Value', overflow='fold')
    for key in sorted(record):
        value = record[key]
        if isinstance(value, (dict, list)):
            value = json.dumps(value, sort_keys=True)
        table.add_row(key, '' if value is None else str(value))
    console.print(table)


def print_rows(rows, columns, fmt):
    if fmt == 'json':
        print_json(rows)
        return
    table = Table(show_header=True, header_style='bold')
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*['' if row.get(col) is None else str(row.get(col))
                        for col in columns])
    console.print(table)


class TaskProgress:
    """Live per-phase and per-store bars fed from task records."""

    def __init__(self, enabled=True):
        self._enabled = enabled and console.is_terminal
        self._bars = {}
        self._last_states = {}
        self._progress = rich_progress.Progress(
            rich_progress.TextColumn('{task.description:<24}'),
            rich_progress.BarColumn(),
            rich_progress.DownloadColumn(binary_units=True),
            rich_progress.TransferSpeedColumn(),
            rich_progress.TextColumn('{task.fields[state]}'),
            console=err_console, disable=not self._enabled)

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        self._progress.__exit__(*exc)

    def update(self, task):
        data = task.get('progress') or {}
        items = [('phase ' + n, p) for n, p in data.get('phases', {}).items()]
        items += [('store ' + n, s) for n, s in data.get('stores', {}).items()]
        for label, item in items:
            self._show(label, item)

    def _show(self, label, item):
        state = item.get('state')
        if not self._enabled:
            # No terminal: one line per state change, for logs and CI.
            if self._last_states.get(label) != state:
                self._last_states[label] = state
                err_console.print('%s: %s' % (label, state))
            return
        if label not in self._bars:
            self._bars[label] = self._progress.add_task(
                label, total=item.get('bytes_total'), state=state)
        total = item.get('bytes_total')
        done = item.get('bytes_done') or 0
        if state in (c.STATE_DONE, c.STORE_ACTIVE) and total:
            done = total
        self._progress.update(self._bars[label], total=total, completed=done,
                              state=state)
