"""Jobs of the audit area: an hourly sealed checkpoint of every chain whose head has moved."""
from __future__ import annotations

import logging

from huey import crontab
from sqlalchemy import select

from portal.jobs import RetryLater, periodic
from portal.jobs.queue import school_ids

log = logging.getLogger("portal.audit")


def checkpoint_if_moved(chain: int) -> bool:
    """Seal *chain*'s head unless the newest checkpoint already covers it (idempotent).
    Returns True when a checkpoint was made (flushes; the caller commits)."""
    from portal.audit.checkpoints import AuditCheckpoint, _head, make_checkpoint
    from portal.audit.models import AuditEntry
    from portal.db import session
    from portal.schools.isolation import all_schools

    seq, _ = _head(chain)
    if seq == 0:
        return False
    last = session.scalar(select(AuditCheckpoint.seq).where(AuditCheckpoint.chain == chain)
                          .order_by(AuditCheckpoint.seq.desc()).limit(1))
    if last is not None:
        with all_schools(session):  # one chain, named by its number
            since = set(session.scalars(select(AuditEntry.action).where(
                AuditEntry.chain == chain, AuditEntry.seq > last)))
        # Nothing happened since, but the entry that recorded that checkpoint.
        if since <= {"audit.checkpoint_made"}:
            return False
    make_checkpoint(chain)
    return True


@periodic("audit.checkpoint", crontab(minute="15"))
def checkpoint() -> str:
    """Hourly: anchor each school's audit chain, and the installation's, with a sealed checkpoint
    in the archive, so that deleting the newest entries is reported by ``flask portal audit verify``."""
    from portal.audit.checkpoints import CheckpointError
    from portal.audit.models import INSTALLATION_CHAIN
    from portal.db import session
    from portal.schools.isolation import school_scope

    made, failed = 0, []
    for chain in [*school_ids(), INSTALLATION_CHAIN]:
        try:
            if chain == INSTALLATION_CHAIN:
                done = checkpoint_if_moved(chain)
            else:
                with school_scope(session, chain):
                    done = checkpoint_if_moved(chain)
            session.commit()
            made += int(done)
        except CheckpointError as exc:
            session.rollback()
            failed.append(chain)
            log.warning("audit.checkpoint: chain %s: %s", chain, exc)
    if failed:
        raise RetryLater(f"no checkpoint for chain(s) {failed}")
    return f"{made} checkpoint(s) made"
