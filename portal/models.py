"""Imports every model module so that ``Base.metadata`` is complete (Alembic, create_all)."""
from portal.audit import models as _audit  # noqa: F401
from portal.db import Base
from portal.incidents import models as _incidents  # noqa: F401  (imports portal.links.models too)
from portal.people import models as _people  # noqa: F401

metadata = Base.metadata
