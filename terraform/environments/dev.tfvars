region      = "eu-west-1"
environment = "dev"

# A Cognito user pool of its own: dev needs no external identity provider.
create_cognito_user_pool = true
cors_allowed_origins     = ["http://localhost:3000"]

api_throttling_burst_limit = 50
api_throttling_rate_limit  = 25

log_retention_days           = 14
table_deletion_protection    = false
event_archive_retention_days = 7

alarm_emails = []
