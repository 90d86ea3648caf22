"""Notices (公示), their sections and their frozen publications."""
