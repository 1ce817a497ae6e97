"""A pymesos executor for the agent's compatibility test: each launched task writes its
id into the sandbox and is reported TASK_RUNNING, then TASK_FINISHED."""

import os
import threading
import time

from addict import Dict
from pymesos import Executor, MesosExecutorDriver


class TestExecutor(Executor):
    def launchTask(self, driver, task):
        def run():
            for state in ("TASK_RUNNING", "TASK_FINISHED"):
                update = Dict()
                update.task_id.value = task.task_id.value
                update.state = state
                update.timestamp = time.time()
                if state == "TASK_FINISHED":
                    path = os.path.join(os.environ["MESOS_SANDBOX"], "pymesos.txt")
                    with open(path, "w") as out:
                        out.write(task.task_id.value)
                driver.sendStatusUpdate(update)

        threading.Thread(target=run).start()

    def shutdown(self, driver):
        driver.stop()


if __name__ == "__main__":
    MesosExecutorDriver(TestExecutor(), use_addict=True).run()
