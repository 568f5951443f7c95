"""The :class:`Project`: a :class:`~core.project.catalog.Catalog` plus import, export, repair.

The services live in their own modules and take the catalog explicitly; this class
only forwards to them, so ``project.import_images(...)`` and
``import_images(project, ...)`` are the same call. It is the one module of
:mod:`core.project` that imports both the catalog and the services, which keeps the
package free of import cycles (import-linter contract ``acyclic_siblings``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Self

from core.project.catalog import Catalog
from core.project.export import export_project
from core.project.importer import changed_images, import_images, relink
from core.project.pg.database import is_team_url
from core.project.repair import recover_images

if TYPE_CHECKING:
    from core.gt.engine import GTParams
    from core.progress import Progress
    from core.project.importer import RelinkResult
    from core.project.records import ImageRecord

__all__ = ["Project"]


class Project(Catalog):
    """An annotation project folder. Use :meth:`create` or :meth:`open`, then :meth:`close`."""

    @classmethod
    def create(
        cls,
        folder: str | os.PathLike[str],
        *,
        name: str | None = None,
        params: GTParams | None = None,
        user: str | None = None,
        root: str | os.PathLike[str] | None = None,
    ) -> Self:
        """A folder project, or a team project at a PostgreSQL URL (see Catalog.create)."""
        if is_team_url(folder):  # a team project: docs/team.md
            from core.project.pg.team import create_team

            return create_team(
                cls, str(folder), root=root or ".", name=name, params=params, user=user
            )
        return super().create(folder, name=name, params=params, user=user)

    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        *,
        read_only: bool = False,
        user: str | None = None,
        root: str | os.PathLike[str] | None = None,
    ) -> Self:
        """A folder project, or a team project's PostgreSQL URL (see Catalog.open)."""
        if is_team_url(folder):
            from core.project.pg.team import open_team

            return open_team(cls, str(folder), read_only=read_only, user=user, root=root)
        return super().open(folder, read_only=read_only, user=user)

    def _recover(self) -> None:
        super()._recover()
        if not self.read_only:
            self.recovered += recover_images(self)

    def import_images(self, folder: str | os.PathLike[str], **options: Any) -> Iterator[Progress]:
        """Import a folder recursively; see :func:`core.project.importer.import_images`."""
        return import_images(self, folder, **options)

    def export(self, out: str | os.PathLike[str], **options: Any) -> Iterator[Progress]:
        """Export a GT dataset; see :func:`core.project.export.export_project`."""
        return export_project(self, out, **options)

    def changed_images(self, *, deep: bool = False) -> list[ImageRecord]:
        """Images whose file differs from the one imported (size; with ``deep``, hash)."""
        return changed_images(self, deep=deep)

    def relink(
        self, target: str | os.PathLike[str], *, image_id: int | None = None
    ) -> RelinkResult:
        """Point missing images at their new location; see :func:`core.project.importer.relink`."""
        return relink(self, target, image_id=image_id)
