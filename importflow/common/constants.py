"""Names shared across the API, the queue, the flow and the stores.

One home for every string that two modules must agree on.
"""

TASK_TYPE_IMPORT = 'api_image_import'

# Import methods (entry-point names in NS_IMPORT_METHODS).
GLANCE_DIRECT = 'glance-direct'
WEB_DOWNLOAD = 'web-download'
COPY_IMAGE = 'copy-image'
GLANCE_DOWNLOAD = 'glance-download'
ALL_METHODS = (GLANCE_DIRECT, WEB_DOWNLOAD, COPY_IMAGE, GLANCE_DOWNLOAD)

# Entry-point namespaces.
NS_IMPORT_METHODS = 'importflow.import_methods'
NS_IMPORT_PLUGINS = 'importflow.image_import.plugins'

# Image statuses.
QUEUED = 'queued'
UPLOADING = 'uploading'
IMPORTING = 'importing'
ACTIVE = 'active'
DEACTIVATED = 'deactivated'
DELETED = 'deleted'

# Task statuses.
TASK_PENDING = 'pending'
TASK_PROCESSING = 'processing'
TASK_SUCCESS = 'success'
TASK_FAILURE = 'failure'
TASK_TERMINAL = (TASK_SUCCESS, TASK_FAILURE)
TASK_LIVE = (TASK_PENDING, TASK_PROCESSING)

# Image properties written by import.
PROP_IMPORT_TASK = 'os_glance_import_task'
PROP_IMPORTING_TO = 'os_glance_importing_to_stores'
PROP_FAILED_IMPORT = 'os_glance_failed_import'
PROP_STAGE_HOST = 'os_glance_stage_host'
RESERVED_PROPERTY_PREFIX = 'os_glance'
HIDDEN_PROPERTIES = (PROP_STAGE_HOST,)

# Attributes cleared when an image returns to 'queued'.
DATA_ATTRIBUTES = ('size', 'virtual_size', 'checksum', 'os_hash_algo',
                   'os_hash_value')

# Stores.
RESERVED_STORE_PREFIX = 'os_glance_'
STAGING_STORE = 'os_glance_staging_store'
TASKS_STORE = 'os_glance_tasks_store'
RESERVED_STORES = (STAGING_STORE, TASKS_STORE)
READ_ONLY_STORE_TYPES = ('http',)
# Key used in result/progress maps when no enabled_backends are configured.
SINGLE_STORE_KEY = 'default'

# Per-store outcome in the task result (import-semantics 9.2).
STORE_ACTIVE = 'active'
STORE_FAILED = 'failed'
STORE_REVERTED = 'reverted'
STORE_CANCELLED = 'cancelled'

# Store progress states (import-semantics 9.3).
STORE_PENDING = 'pending'
STORE_COPYING = 'copying'

# Phases and their states (import-semantics 9.3).
PHASE_STARTING = 'starting'
PHASE_DOWNLOAD = 'download'
PHASE_COPY_TO_STAGING = 'copy_to_staging'
PHASE_DECOMPRESSION = 'decompression'
PHASE_CONVERSION = 'conversion'
PHASE_STORES = 'stores'
PHASE_FINISHING = 'finishing'
PHASE_REVERTING = 'reverting'
PHASE_DONE = 'done'
STATE_PENDING = 'pending'
STATE_RUNNING = 'running'
STATE_DONE = 'done'
STATE_FAILED = 'failed'
STATE_CANCELLED = 'cancelled'

# Taskflow storage keys.
KEY_STAGED_PATH = 'staged_path'

# Task messages (import-semantics 9.4).
MSG_ABORTED = 'Import aborted by administrator'
MSG_IMAGE_DELETED = 'Image was deleted during import'
MSG_LOCK_BUSTED = 'Expired lock preempted'

# RPC.
RPC_TOPIC = 'importflow'
RPC_NAMESPACE = 'importflow'
RPC_VERSION = '1.0'

MiB = 1024 * 1024
