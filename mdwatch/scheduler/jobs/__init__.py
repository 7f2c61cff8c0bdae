"""Jobs: the work a user starts (a scan of URLs, a sweep of a platform, a campaign run, a registry
import, evidence export and verification, the demo). Each runs the page pipeline
(``scheduler.pipeline``) and stores one run."""
