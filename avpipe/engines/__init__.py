"""Execution engines other than the local worker pool (avpipe.runner): Ray."""
