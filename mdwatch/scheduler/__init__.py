"""The application layer and composition root, organised by role (imports go one way, down this list):

- ``cli/``: the ``mdwatch`` command, one module per command group, options from ``settings``;
- ``app``: ``build_app(AppConfig)``, what every entry point (CLI, tests, the console) runs on;
- ``settings``: every shared option declared once, as data;
- ``jobs/``: scan, sweep, campaign, registry import, evidence, demo;
- ``service/``: the scheduler service (enqueue, launch, poll);
- ``outputs/``: terminal, reports, notifications, the precision guard; labels and time zone once;
- ``pipeline/``: the page pipeline every job runs (extract → OCR → registry → history → analyzers
  with the rule packs → store), and its sweep form (a Scrapy item pipeline).

It converts between the packages' types (crawler Capture → analyzers Page → storage records), so
crawler, analyzers and storage never import each other.
"""
