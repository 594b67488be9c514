"""Tests of ``course_utils.data``."""
