"""Who is asking: the signed-in user as the stores see them, and the rule for what each user may read.

Sign-in is optional. Without it every caller is the same anonymous viewer (`owner` None) and sees everything, as a
single user on loopback expects. With it, a row belongs to the user who made it (`owner`, the account's e-mail in
lower case, or its `sub` claim when the provider sends no e-mail); a user reads their own rows, an admin reads all.
Rows made before sign-in was turned on have no owner: only admins see them (and anyone holding a share link).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ADMINS_ENV = "PLAYGROUND_ADMINS"


@dataclass(frozen=True)
class Viewer:
    """The caller of a store: `owner` None means sign-in is off (everyone sees everything)."""

    owner: str | None = None
    name: str = ""
    is_admin: bool = False

    @property
    def sees_all(self) -> bool:
        """True when no owner filter applies (sign-in off, or an admin)."""
        return self.owner is None or self.is_admin

    def can_read(self, row_owner: str | None) -> bool:
        """Whether this viewer may read a row owned by `row_owner` (None: made while sign-in was off)."""
        return self.sees_all or row_owner == self.owner


ANONYMOUS = Viewer()


def owner_id(claims: Mapping[str, object]) -> str | None:
    """The stable owner id of a signed-in account: its e-mail in lower case, else its `sub` claim; None if neither."""
    for claim in ("email", "sub"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip().lower() if claim == "email" else value.strip()
    return None


def admins_from_env(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """PLAYGROUND_ADMINS: comma- or space-separated owner ids (e-mails in any case, or `sub` values)."""
    raw = (os.environ if environ is None else environ).get(ADMINS_ENV, "")
    return normalise_admins(raw.replace(",", " ").split())


def normalise_admins(entries: Iterable[str]) -> frozenset[str]:
    """Owner ids as `owner_id` makes them: e-mails (anything with an @) in lower case, `sub` values as given."""
    return frozenset(e.strip().lower() if "@" in e else e.strip() for e in entries if e.strip())
