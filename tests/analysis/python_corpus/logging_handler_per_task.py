# A Celery task that adds a file handler to the module's logger on every run.
# expect: growth function=export_report line=12 variable=export_report
import logging

from celery import shared_task

log = logging.getLogger("reports")


@shared_task
def export_report(report_id: str) -> None:
    log.addHandler(logging.FileHandler(f"/tmp/report-{report_id}.log"))
    log.info("exporting %s", report_id)
