"""Talking to kontinue on a cluster: create, watch, wait for, resume and cancel executions."""
