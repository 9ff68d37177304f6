"""`importflow`: the command line (design.md section 3)."""

import logging as std_logging
import os
import sys

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils.imageutils import format_inspector

from importflow.common import constants as c
from importflow.common import exceptions
from importflow import conf as importflow_conf
from importflow.cmd import output
from importflow.conf import CONF
from importflow.db import migration
from importflow.domain import views
from importflow import stores

LOG = logging.getLogger(__name__)


def _add_format(parser):
    parser.add_argument('--format', choices=['table', 'json'],
                        default='table', help='Output format.')


def _add_targets(parser):
    parser.add_argument('--stores', default=None,
                        help='Comma-separated target store ids.')
    parser.add_argument('--all-stores', action='store_true',
                        help='Import into every writable store.')
    parser.add_argument('--allow-partial', action='store_true',
                        help='Succeed when at least one store succeeds '
                             '(all_stores_must_succeed=false).')
    parser.add_argument('--no-wait', action='store_true',
                        help='Print the queued task and return at once '
                             '(needs a separate importflow-worker).')


def add_command_parsers(subparsers):
    db = subparsers.add_parser('db', help='Database schema.')
    db_sub = db.add_subparsers(dest='action', required=True)
    db_sub.add_parser('sync', help='Create or upgrade the schema.')

    st = subparsers.add_parser('stores', help='List the configured stores.')
    _add_format(st)

    image = subparsers.add_parser('image', help='Image records.')
    image_sub = image.add_subparsers(dest='action', required=True)
    create = image_sub.add_parser('create', help='Create a queued image.')
    create.add_argument('--name')
    create.add_argument('--disk-format')
    create.add_argument('--container-format', default='bare')
    create.add_argument('--property', action='append', default=[],
                        metavar='KEY=VALUE')
    _add_format(create)
    stage = image_sub.add_parser('stage', help='Upload data to staging.')
    stage.add_argument('image_id')
    stage.add_argument('file')
    _add_format(stage)
    imp = image_sub.add_parser('import', help='Queue an import.')
    imp.add_argument('image_id')
    imp.add_argument('--method', default=c.GLANCE_DIRECT,
                     choices=[c.GLANCE_DIRECT, c.WEB_DOWNLOAD, c.COPY_IMAGE])
    imp.add_argument('--uri', help='URL for web-download.')
    _add_targets(imp)
    _add_format(imp)
    for action in ('show', 'delete'):
        sub = image_sub.add_parser(action, help='%s an image.'
                                   % action.capitalize())
        sub.add_argument('image_id')
        _add_format(sub)
    listing = image_sub.add_parser('list', help='List images.')
    _add_format(listing)

    task = subparsers.add_parser('task', help='Import tasks.')
    task_sub = task.add_subparsers(dest='action', required=True)
    show = task_sub.add_parser('show', help='Show a task.')
    show.add_argument('task_id')
    _add_format(show)
    tlist = task_sub.add_parser('list', help='List tasks.')
    tlist.add_argument('--image', dest='image_id')
    _add_format(tlist)
    abort = task_sub.add_parser('abort',
                                help="Abort the import holding an image.")
    abort.add_argument('image_id')
    _add_format(abort)

    one = subparsers.add_parser(
        'import', help='Create an image and import it, with live progress.')
    source = one.add_mutually_exclusive_group(required=True)
    source.add_argument('file', nargs='?', help='Local image file.')
    source.add_argument('--url', help='Import with web-download.')
    source.add_argument('--copy', metavar='IMAGE_ID',
                        help='Copy an active image into more stores.')
    one.add_argument('--name')
    one.add_argument('--disk-format',
                     help='Default: detected from the file, else raw.')
    one.add_argument('--container-format', default='bare')
    _add_targets(one)
    _add_format(one)


command_opt = cfg.SubCommandOpt('command', title='Commands',
                                handler=add_command_parsers)


def _target_kwargs(args):
    kwargs = {}
    if args.stores:
        kwargs['stores_'] = [s.strip() for s in args.stores.split(',')]
    if args.all_stores:
        kwargs['all_stores'] = True
    if args.allow_partial:
        kwargs['all_stores_must_succeed'] = False
    return kwargs


def _client():
    from importflow import client
    return client.Client()


def _image_out(client, image, fmt):
    admin = client.context.is_admin
    output.print_record(views.image(image, admin=admin), fmt)


def do_db(args):
    migration.sync()
    output.console.print('Database is up to date: %s'
                         % _safe_url(CONF.database.connection))


def _safe_url(url):
    return url.split('@')[-1] if '@' in url else url


def do_stores(args):
    stores.configure()
    rows = [stores.describe(s) for s in stores.store_ids()]
    output.print_rows(rows, ['id', 'type', 'default', 'read-only', 'weight',
                             'description'], args.format)


def do_image(args):
    with _client() as client:
        action = args.action
        if action == 'create':
            props = dict(p.split('=', 1) for p in args.property)
            body = {k: v for k, v in {
                'name': args.name, 'disk_format': args.disk_format,
                'container_format': args.container_format}.items() if v}
            body.update(props)
            _image_out(client, client.create_image(**body), args.format)
        elif action == 'stage':
            with _open_source(args.file) as data:
                image = client.stage(args.image_id, data)
            _image_out(client, image, args.format)
        elif action == 'import':
            task = client.import_image(args.image_id, method=args.method,
                                       uri=args.uri, **_target_kwargs(args))
            if task is None:
                output.console.print('Nothing to do: every store already '
                                     'holds the image.')
                return 0
            return _follow(client, task, args)
        elif action == 'show':
            _image_out(client, client.show_image(args.image_id), args.format)
        elif action == 'delete':
            client.delete_image(args.image_id)
            output.console.print('Image %s deleted' % args.image_id)
        elif action == 'list':
            rows = [views.image(i) for i in client.list_images()]
            output.print_rows(rows, ['id', 'name', 'status', 'size',
                                     'stores'], args.format)
    return 0


def do_task(args):
    with _client() as client:
        if args.action == 'show':
            output.print_record(views.task(client.show_task(args.task_id)),
                                args.format)
        elif args.action == 'list':
            rows = [views.task(t) for t in client.list_tasks(args.image_id)]
            output.print_rows(rows, ['id', 'image_id', 'status', 'message',
                                     'updated_at'], args.format)
        elif args.action == 'abort':
            task = client.abort_import(args.image_id)
            output.print_record(views.task(task), args.format)
    return 0


def _open_source(path):
    try:
        return open(path, 'rb')
    except OSError as exc:
        raise exceptions.BadRequest('Cannot read %s: %s'
                                    % (path, exc.strerror))


def _detect_format(path):
    try:
        inspector = format_inspector.detect_file_format(path)
    except format_inspector.ImageFormatError as exc:
        raise exceptions.BadRequest('Cannot tell the format of %s: %s'
                                    % (path, exc))
    return str(inspector) if inspector else 'raw'


def do_import(args):
    """One-shot import of a file, a URL or an existing image."""
    with _client() as client:
        kwargs = _target_kwargs(args)
        if args.copy:
            image_id = args.copy
            task = client.import_image(image_id, method=c.COPY_IMAGE,
                                       **kwargs)
            if task is None:
                output.console.print('Nothing to do: every store already '
                                     'holds image %s.' % image_id)
                return 0
            return _follow(client, task, args)
        body = {'name': args.name, 'container_format': args.container_format}
        if args.file:
            with _open_source(args.file) as data:
                body['name'] = body['name'] or os.path.basename(args.file)
                body['disk_format'] = (args.disk_format or
                                       _detect_format(args.file))
                image = client.create_image(**body)
                client.stage(image['id'], data)
            task = client.import_image(image['id'], **kwargs)
        else:
            body['name'] = body['name'] or args.url.rsplit('/', 1)[-1]
            body['disk_format'] = args.disk_format or 'raw'
            image = client.create_image(**body)
            task = client.import_image(image['id'], method=c.WEB_DOWNLOAD,
                                       uri=args.url, **kwargs)
        return _follow(client, task, args)


def _follow(client, task, args):
    """Show progress until the task ends, then the summary."""
    fmt = args.format
    if args.no_wait and not client.runs_in_process():
        output.print_record(views.task(task), fmt)
        return 0
    with output.TaskProgress(enabled=fmt != 'json') as display:
        task = client.wait(task['id'], on_progress=display.update)
    image = client.show_image(task['image_id'])
    if fmt == 'json':
        output.print_json({'image': views.image(image),
                           'task': views.task(task)})
    else:
        _print_summary(image, task)
    if task['status'] != c.TASK_SUCCESS:
        output.error('Import of image %s failed: %s'
                     % (image['id'], task['message']))
        return 1
    return 0


def _print_summary(image, task):
    stores_result = (task['result'] or {}).get('stores', {})
    rows = [{'store': key, 'status': entry.get('status'),
             'size': entry.get('size'), 'error': entry.get('error')}
            for key, entry in stores_result.items()]
    output.print_rows(rows, ['store', 'status', 'size', 'error'], 'table')
    output.print_rows([{'image': image['id'], 'status': image['status'],
                        'size': image['size'],
                        'checksum': image['checksum'],
                        'task': task['id'],
                        'task status': task['status']}],
                      ['image', 'status', 'size', 'checksum', 'task',
                       'task status'], 'table')


HANDLERS = {'db': do_db, 'stores': do_stores, 'image': do_image,
            'task': do_task, 'import': do_import}


def main(argv=None):
    if 'command' not in CONF:
        CONF.register_cli_opt(command_opt)
    argv = sys.argv[1:] if argv is None else argv
    try:
        importflow_conf.parse_args(argv)
        logging.setup(CONF, 'importflow')
        if not CONF.debug:
            # People read the progress display; logs only for trouble.
            std_logging.getLogger().setLevel(std_logging.WARNING)
        if importflow_conf.is_embedded():
            # The embedded default creates its database on first use.
            migration.sync()
        return HANDLERS[CONF.command.name](CONF.command) or 0
    except exceptions.ImportflowError as exc:
        output.error('Error: %s' % exc)
        return 2 if isinstance(exc, exceptions.ConfigError) else 1


if __name__ == '__main__':
    sys.exit(main())
