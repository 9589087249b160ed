"""Stand-in for modules/progress.py (v1.10.1): the task ids the progress bar follows."""

from collections import OrderedDict

current_task = None
pending_tasks: OrderedDict = OrderedDict()
finished_tasks: list = []
history: list = []  # not in the webui: what the tests check


def add_task_to_queue(id_job):
    pending_tasks[id_job] = 0.0
    history.append(("queued", id_job))


def start_task(id_task):
    global current_task
    current_task = id_task
    pending_tasks.pop(id_task, None)
    history.append(("start", id_task))


def finish_task(id_task):
    global current_task
    if current_task == id_task:
        current_task = None
    finished_tasks.append(id_task)
    history.append(("finish", id_task))
