provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "event-flows"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

module "event_flows" {
  source = "../modules/event-flows"

  environment                       = var.environment
  artifacts_dir                     = var.artifacts_dir
  function_zip_paths                = var.function_zip_paths
  reserved_concurrency              = var.reserved_concurrency
  queue_consumer_concurrency        = var.queue_consumer_concurrency
  table_warm_throughput             = var.table_warm_throughput
  jwt_issuer                        = var.jwt_issuer
  jwt_audience                      = var.jwt_audience
  create_cognito_user_pool          = var.create_cognito_user_pool
  cors_allowed_origins              = var.cors_allowed_origins
  api_throttling_burst_limit        = var.api_throttling_burst_limit
  api_throttling_rate_limit         = var.api_throttling_rate_limit
  log_retention_days                = var.log_retention_days
  table_deletion_protection         = var.table_deletion_protection
  event_archive_retention_days      = var.event_archive_retention_days
  analytics_allowed_account_ids     = var.analytics_allowed_account_ids
  analytics_allowed_organization_id = var.analytics_allowed_organization_id
  analytics_retention_days          = var.analytics_retention_days
  item_shards                       = var.item_shards
  alarm_emails                      = var.alarm_emails
}
