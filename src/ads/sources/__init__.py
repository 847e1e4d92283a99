"""Sources: the outside world ADS reads from — PagerDuty, git repositories, monitors, storage.

Each system is reached through one seam that takes a client or a transport, so tests plug in a
local server or a real temporary repository instead of monkeypatching.
"""
