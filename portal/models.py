"""Imports every model module so that ``Base.metadata`` is complete (Alembic, create_all)."""
from portal.audit import models as _audit  # noqa: F401
from portal.db import Base
from portal.people import models as _people  # noqa: F401

metadata = Base.metadata
from portal.policies import models as _policies  # noqa: F401,E402
from portal.signatures import models as _signatures  # noqa: F401,E402
from portal.records import models as _records  # noqa: F401,E402
