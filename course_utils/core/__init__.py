"""The bottom layer: errors, settings, device and threads, input checks, files, notebook banners, style.

The names notebooks use from here: :func:`env_flag` (``COURSE_FULL``), and the errors a notebook catches.
"""

from .errors import CheckpointError, CourseError, ExportError, SettingError
from .settings import env_flag, offline

__all__ = ["CheckpointError", "CourseError", "ExportError", "SettingError", "env_flag", "offline"]
