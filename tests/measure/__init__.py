"""Tests of ``course_utils.measure``."""
