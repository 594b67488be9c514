"""Tests of ``course_utils.deploy``."""
