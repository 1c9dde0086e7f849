"""Imports every model module so that ``Base.metadata`` is complete (Alembic, create_all)."""
from portal import idempotency as _idempotency  # noqa: F401
from portal.audit import checkpoints as _checkpoints  # noqa: F401
from portal.audit import models as _audit  # noqa: F401
from portal.auth import models as _auth  # noqa: F401
from portal.classroom import models as _classroom  # noqa: F401
from portal.concerns import models as _concerns  # noqa: F401
from portal.dataprotection import models as _dataprotection  # noqa: F401
from portal.db import Base
from portal.incidents import models as _incidents  # noqa: F401
from portal.jobs import models as _jobs  # noqa: F401
from portal.links import models as _links  # noqa: F401
from portal.lti import models as _lti  # noqa: F401
from portal.people import models as _people  # noqa: F401
from portal.policies import models as _policies  # noqa: F401
from portal.records import models as _records  # noqa: F401
from portal.schools import models as _schools  # noqa: F401
from portal.signatures import models as _signatures  # noqa: F401

metadata = Base.metadata
