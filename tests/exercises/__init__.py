"""Tests of ``course_utils.exercises``."""
