"""Console entry points."""

import warnings

# oslo.service (pulled in by oslo.messaging) warns about eventlet at import
# time; importflow does not use eventlet, and users should not see it.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
