"""dbgpipe's pytest plugin: `pytest --dbgpipe-leaks` names the tests that leak.

pytest loads `plugin` through the `pytest11` entry point of the dbgpipe distribution; it does
nothing unless asked (--dbgpipe-leaks, or a test marked dbgpipe_leaks). `rounds` measures a
test in rounds and gets the verdict from the rss-rounds binary installed beside it.
"""
