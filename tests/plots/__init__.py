"""Tests of ``course_utils.plots``."""
