"""modules/call_queue.py (v1.10.1): queue_lock, the lock every GPU job of the webui holds."""

import threading

queue_lock = threading.Lock()
