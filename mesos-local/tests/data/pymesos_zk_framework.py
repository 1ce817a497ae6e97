"""pymesos 0.3.15, unchanged, as a framework of a ZooKeeper-detected master.

Usage: pymesos_zk_framework.py zk://host:port/path TASK_ID

pymesos finds the leading master through its kazoo-based detector (the lowest `json.info_`
child, its JSON `address`), subscribes (following a 307 from a non-leader), launches one
`true` task on the first offer and prints every status update as `UPDATE <task> <state>`.
It prints `MASTER <ip:port>` for the master it detected and exits 0 once the task finished,
1 on any other terminal state, 2 after 60 seconds.
"""

import json
import sys
import threading

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler
from pymesos.detector import MasterDetector

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
            "TASK_DROPPED", "TASK_GONE"}


class Detected(object):
    """Prints what pymesos's own detector reports, as its scheduler driver would use it."""

    def __init__(self):
        self.found = threading.Event()

    def onNewMasterDetectedMessage(self, data):
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        address = json.loads(data)["address"]
        print("MASTER %s:%s" % (address["ip"], address["port"]), flush=True)
        self.found.set()

    def onNoMasterDetectedMessage(self):
        pass


class OneTask(Scheduler):
    def __init__(self, task_id):
        self.task_id = task_id
        self.launched = False
        self.outcome = None

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id)
                continue
            self.launched = True
            task = Dict()
            task.task_id.value = self.task_id
            task.agent_id.value = offer.agent_id.value
            task.name = self.task_id
            task.command.value = "true"
            task.resources = [
                dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                dict(name="mem", type="SCALAR", scalar={"value": 16}),
            ]
            driver.launchTasks(offer.id, [task])

    def statusUpdate(self, driver, update):
        print("UPDATE %s %s" % (update.task_id.value, update.state), flush=True)
        if update.task_id.value == self.task_id and update.state in TERMINAL:
            self.outcome = update.state
            driver.stop()


def main():
    uri, task_id = sys.argv[1], sys.argv[2]
    detected = Detected()
    detector = MasterDetector(uri[uri.index("://") + 3:], detected)
    detector.start()
    if not detected.found.wait(30):
        print("NO MASTER DETECTED", flush=True)
        return 2
    detector.stop()

    framework = Dict()
    framework.user = "root"
    framework.name = "pymesos-zk"
    framework.hostname = "localhost"
    scheduler = OneTask(task_id)
    driver = MesosSchedulerDriver(scheduler, framework, uri, use_addict=True)
    timer = threading.Timer(60, driver.stop)
    timer.start()
    driver.run()
    timer.cancel()
    if scheduler.outcome == "TASK_FINISHED":
        return 0
    return 1 if scheduler.outcome else 2


if __name__ == "__main__":
    sys.exit(main())
