region      = "eu-west-1"
environment = "prod"

# The production identity provider (replace with yours).
jwt_issuer   = "https://auth.example.com/"
jwt_audience = ["event-flows-api"]

cors_allowed_origins = ["https://app.example.com"]

api_throttling_burst_limit = 500
api_throttling_rate_limit  = 250

reserved_concurrency = {
  "query" = 50
  "write" = 50
}

# The analytics queue's consumer may run 20 invocations of 10 events at once (topology.json:
# 5). Size it from the busiest tenant's events per second and the consumer's measured batch
# duration: docs/DEPLOY.md, "Sizing for one busy tenant".
queue_consumer_concurrency = {
  "analytics" = 20
}

log_retention_days           = 90
table_deletion_protection    = true
event_archive_retention_days = 90

# Cross-account analytics producers (empty: none).
analytics_allowed_account_ids     = []
analytics_allowed_organization_id = null

alarm_emails = ["oncall@example.com"]
