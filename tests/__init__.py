"""The course's tests. The folders mirror ``course_utils`` (``tests/data/`` tests ``course_utils/data/``, …);
the modules here check the whole project (architecture, notebooks, website, browser, benchmarks), and
``reliability/`` injects faults across the package. Shared fixtures live in ``conftest.py``."""

from pathlib import Path

#: The repository root.
ROOT = Path(__file__).resolve().parent.parent
