"""Tests of ``course_utils.train``."""
