"""dbgpipe's pytest plugin: see plugin.py."""
