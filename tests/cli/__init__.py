"""Tests of ``course_utils.cli``."""
