"""Tests of ``course_utils.lessons``."""
