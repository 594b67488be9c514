"""Tests of ``course_utils.inspect``."""
