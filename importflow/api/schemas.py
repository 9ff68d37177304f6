"""JSON schemas served under /v2/schemas, shaped like Glance's.

python-glanceclient builds its command-line options and its client-side
validation from the image schema, so every attribute an image view may
carry is declared here with a type that admits the view's values.
"""

from importflow.common import constants as c
from importflow.domain import images

UUID_PATTERN = ('^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}'
                '-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$')
IMAGE_STATUSES = ('queued', 'saving', 'active', 'killed', 'deleted',
                  'uploading', 'importing', 'pending_delete', 'deactivated')
_DOC = 'https://docs.openstack.org/python-glanceclient/latest/cli/' \
       'property-keys.html'


def _ro(type_, description, **extra):
    return dict(type=type_, readOnly=True, description=description, **extra)


def _base_properties():
    return {
        'id': {'type': 'string', 'pattern': UUID_PATTERN,
               'description': 'An identifier for the image'},
        'name': {'type': ['null', 'string'], 'maxLength': 255,
                 'description': 'Descriptive name for the image'},
        'status': _ro('string', 'Status of the image',
                      enum=list(IMAGE_STATUSES)),
        'visibility': {'type': 'string',
                       'enum': list(images.VISIBILITIES),
                       'description': 'Scope of image accessibility'},
        'protected': {'type': 'boolean',
                      'description': 'If true, image will not be '
                                     'deletable.'},
        'os_hidden': {'type': 'boolean',
                      'description': 'If true, image will not appear in '
                                     'default image list response.'},
        'checksum': _ro(['null', 'string'], 'md5 hash of image contents.',
                        maxLength=32),
        'os_hash_algo': _ro(['null', 'string'],
                            'Algorithm to calculate the os_hash_value',
                            maxLength=64),
        'os_hash_value': _ro(['null', 'string'],
                             'Hexdigest of the image contents using the '
                             'algorithm specified by the os_hash_algo',
                             maxLength=128),
        'owner': {'type': ['null', 'string'], 'maxLength': 255,
                  'description': 'Owner of the image'},
        'size': _ro(['null', 'integer'], 'Size of image file in bytes'),
        'virtual_size': _ro(['null', 'integer'],
                            'Virtual size of image in bytes'),
        'container_format': {
            'type': ['null', 'string'],
            'enum': [None] + list(images.CONTAINER_FORMATS),
            'description': 'Format of the container'},
        'disk_format': {'type': ['null', 'string'],
                        'enum': [None] + list(images.DISK_FORMATS),
                        'description': 'Format of the disk'},
        'created_at': _ro('string', 'Date and time of image registration'),
        'updated_at': _ro('string',
                          'Date and time of the last image modification'),
        'tags': {'type': 'array',
                 'items': {'type': 'string', 'maxLength': 255},
                 'description': 'List of strings related to the image'},
        'direct_url': _ro('string', 'URL to access the image file kept in '
                                    'external store'),
        'min_ram': {'type': 'integer',
                    'description': 'Amount of ram (in MB) required to boot '
                                   'image.'},
        'min_disk': {'type': 'integer',
                     'description': 'Amount of disk space (in GB) required '
                                    'to boot image.'},
        'self': _ro('string', 'An image self url'),
        'file': _ro('string', 'An image file url'),
        'stores': _ro('string', 'Store in which image data resides.  Only '
                                'present when the operator has enabled '
                                'multiple stores.  May be a comma-separated '
                                'list of store identifiers.'),
        'schema': _ro('string', 'An image schema url'),
        'locations': {
            'type': 'array',
            'items': {
                'type': 'object',
                'properties': {
                    'url': {'type': 'string', 'maxLength': 255},
                    'metadata': {'type': 'object'},
                    'validation_data': {
                        'type': 'object',
                        'description': 'Values to be used to populate the '
                                       'corresponding image properties. If '
                                       'the image status is not \'queued\', '
                                       'values must exactly match those '
                                       'already contained in the image '
                                       'properties.',
                        'properties': {
                            'checksum': {'type': 'string', 'minLength': 32,
                                         'maxLength': 32},
                            'os_hash_algo': {'type': 'string',
                                             'maxLength': 64},
                            'os_hash_value': {'type': 'string',
                                              'maxLength': 128},
                        },
                        'required': ['os_hash_algo', 'os_hash_value'],
                        'additionalProperties': False},
                },
                'required': ['url', 'metadata'],
            },
            'description': 'A set of URLs to access the image file kept in '
                           'external store'},
        # Written by import (import-semantics section 8).
        c.PROP_IMPORT_TASK: _ro('string', 'Id of the import task that '
                                          'holds the image; absent when no '
                                          'import runs'),
        c.PROP_IMPORTING_TO: _ro('string', 'Stores the running import '
                                           'still copies to (sorted, '
                                           'comma-separated)'),
        c.PROP_FAILED_IMPORT: _ro('string', 'Stores the last import failed '
                                            'to copy to (sorted, '
                                            'comma-separated)'),
    }


def _metadata_properties():
    """The optional properties of Glance's schema-image.json."""
    uuid_or_null = {'type': ['null', 'string'], 'pattern': UUID_PATTERN}
    return {
        'kernel_id': dict(uuid_or_null, is_base=False,
                          description='ID of image stored in Glance that '
                                      'should be used as the kernel when '
                                      'booting an AMI-style image.'),
        'ramdisk_id': dict(uuid_or_null, is_base=False,
                           description='ID of image stored in Glance that '
                                       'should be used as the ramdisk when '
                                       'booting an AMI-style image.'),
        'instance_uuid': {'type': 'string', 'is_base': False,
                          'description': 'Metadata which can be used to '
                                         'record which instance this image '
                                         'is associated with. '
                                         '(Informational only, does not '
                                         'create an instance snapshot.)'},
        'architecture': {'type': 'string', 'is_base': False,
                         'description': 'Operating system architecture as '
                                        'specified in %s' % _DOC},
        'os_distro': {'type': 'string', 'is_base': False,
                      'description': 'Common name of operating system '
                                     'distribution as specified in %s'
                                     % _DOC},
        'os_version': {'type': 'string', 'is_base': False,
                       'description': 'Operating system version as '
                                      'specified by the distributor.'},
        'description': {'type': 'string', 'is_base': False,
                        'description': 'A human-readable string describing '
                                       'this image.'},
        'cinder_encryption_key_id': {
            'type': 'string', 'is_base': False,
            'description': 'Identifier in the OpenStack Key Management '
                           'Service for the encryption key for the Block '
                           'Storage Service to use when mounting a volume '
                           'created from this image'},
        'cinder_encryption_key_deletion_policy': {
            'type': 'string', 'is_base': False,
            'enum': ['on_image_deletion', 'do_not_delete'],
            'description': 'States the condition under which the Image '
                           'Service will delete the object associated with '
                           'the \'cinder_encryption_key_id\' image '
                           'property.'},
    }


def image():
    properties = _base_properties()
    properties.update(_metadata_properties())
    return {
        'name': 'image',
        'properties': properties,
        'additionalProperties': {'type': 'string'},
        'links': [{'rel': 'self', 'href': '{self}'},
                  {'rel': 'enclosure', 'href': '{file}'},
                  {'rel': 'describedby', 'href': '{schema}'}],
    }


def images_():
    return {
        'name': 'images',
        'properties': {
            'images': {'type': 'array', 'items': image()},
            'schema': {'type': 'string'},
            'first': {'type': 'string'},
            'next': {'type': 'string'},
        },
        'links': [{'rel': 'first', 'href': '{first}'},
                  {'rel': 'next', 'href': '{next}'},
                  {'rel': 'describedby', 'href': '{schema}'}],
    }


def task():
    nullable_time = {'type': ['null', 'string']}
    return {
        'name': 'task',
        'properties': {
            'id': {'type': 'string', 'pattern': UUID_PATTERN,
                   'description': 'An identifier for the task'},
            'type': {'type': 'string', 'enum': [c.TASK_TYPE_IMPORT],
                     'description': 'The type of task represented by this '
                                    'content'},
            'status': {'type': 'string',
                       'enum': [c.TASK_PENDING, c.TASK_PROCESSING,
                                c.TASK_SUCCESS, c.TASK_FAILURE],
                       'description': 'The current status of this task'},
            'owner': {'type': ['null', 'string'],
                      'description': 'Project that requested the task'},
            'user_id': {'type': ['null', 'string'],
                        'description': 'User that requested the task'},
            'request_id': {'type': ['null', 'string'],
                           'description': 'X-Openstack-Request-Id of the '
                                          'import request'},
            'image_id': {'type': 'string', 'pattern': UUID_PATTERN,
                         'description': 'The image the task imports'},
            'input': {'type': 'object',
                      'description': 'The import request and its target '
                                     'stores'},
            'result': {'type': ['null', 'object'],
                       'description': 'Per-store outcome, at the end'},
            'message': {'type': 'string',
                        'description': 'Human-readable progress or failure '
                                       'reason'},
            'progress': {'type': ['null', 'object'],
                         'description': 'Phases and per-store byte counts'},
            'attempt': {'type': 'integer',
                        'description': '1, plus 1 per worker takeover'},
            'created_at': {'type': 'string'},
            'updated_at': {'type': 'string'},
            'started_at': nullable_time,
            'expires_at': nullable_time,
            'schema': {'type': 'string'},
        },
        'links': [{'rel': 'describedby', 'href': '{schema}'}],
    }


def tasks():
    return {
        'name': 'tasks',
        'properties': {
            'tasks': {'type': 'array', 'items': task()},
            'schema': {'type': 'string'},
        },
        'links': [{'rel': 'describedby', 'href': '{schema}'}],
    }
