"""The portal's own telemetry: Prometheus metrics of the pipeline, OpenTelemetry tracing.

Other apps record through the helpers in `metrics` (and `ingest.observed_admission`
at the ingest edges) and register what is read at scrape time with
`collectors.register_scrape_collector` from their `ready()`: telemetry imports no
product app. The names of the metrics are a contract with the dashboards
in `grafana/` and the alert rules in `compose/prometheus/`.
"""
