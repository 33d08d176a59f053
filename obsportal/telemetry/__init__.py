"""The portal's own telemetry: Prometheus metrics of the pipeline, OpenTelemetry tracing.

Other apps record through the helpers in `metrics` (and `ingest.observed_admission`
at the ingest edges); the names of the metrics are a contract with the dashboards
in `grafana/` and the alert rules in `compose/prometheus/`.
"""
