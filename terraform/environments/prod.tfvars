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

log_retention_days           = 90
table_deletion_protection    = true
event_archive_retention_days = 90

# Cross-account analytics producers (empty: none).
analytics_allowed_account_ids     = []
analytics_allowed_organization_id = null

alarm_emails = ["oncall@example.com"]
