variable "region" {
  description = "AWS region to deploy to."
  type        = string
}

variable "environment" {
  description = "Environment name; prefixes every resource (event-flows-<environment>-...)."
  type        = string
}

variable "artifacts_dir" {
  description = "Directory of the function zips, relative to this directory (npm run build writes dist/<function>.zip)."
  type        = string
  default     = "../../dist"
}

variable "function_zip_paths" {
  description = "Per-function zip path overrides, by function key."
  type        = map(string)
  default     = {}
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function key."
  type        = map(number)
  default     = {}
}

variable "table_warm_throughput" {
  description = "Pre-warmed read and write units per second by table or \"<table>/<index>\"; see the event-flows module and docs/DEPLOY.md."
  type = map(object({
    read_units_per_second  = number
    write_units_per_second = number
  }))
  default = {}
}

variable "queue_consumer_concurrency" {
  description = "Per-queue overrides of the most concurrent invocations of each queue's consumer (import, app-events, analytics); see the event-flows module and docs/DEPLOY.md."
  type        = map(number)
  default     = {}
}

variable "jwt_issuer" {
  description = "Issuer URL of the JWT authorizer (when create_cognito_user_pool is false)."
  type        = string
  default     = null
}

variable "jwt_audience" {
  description = "Accepted JWT audiences (when create_cognito_user_pool is false)."
  type        = list(string)
  default     = []
}

variable "create_cognito_user_pool" {
  description = "Create a Cognito user pool as the JWT issuer."
  type        = bool
  default     = false
}

variable "cors_allowed_origins" {
  description = "Front-end origins allowed by CORS."
  type        = list(string)
  default     = []
}

variable "api_throttling_burst_limit" {
  description = "Burst limit of the API."
  type        = number
  default     = 200
}

variable "api_throttling_rate_limit" {
  description = "Rate limit of the API (requests per second)."
  type        = number
  default     = 100
}

variable "log_retention_days" {
  description = "Retention of the log groups, in days."
  type        = number
  default     = 30
}

variable "table_deletion_protection" {
  description = "Deletion protection for the DynamoDB tables and the Cognito user pool (when created)."
  type        = bool
  default     = true
}

variable "event_archive_retention_days" {
  description = "Days the app bus's archive keeps our domain events (the analytics bus has none)."
  type        = number
  default     = 30
}

variable "analytics_allowed_account_ids" {
  description = "Accounts allowed to PutEvents on the analytics bus."
  type        = list(string)
  default     = []
}

variable "analytics_allowed_organization_id" {
  description = "AWS Organization allowed to PutEvents on the analytics bus."
  type        = string
  default     = null
}

variable "alarm_emails" {
  description = "E-mail addresses that receive alarms."
  type        = list(string)
  default     = []
}

variable "item_shards" {
  description = "Partition keys a new collection's items are spread over (1-64); affects new collections only. See the event-flows module's README and docs/SCALE.md."
  type        = number
  default     = 32
}

variable "analytics_retention_days" {
  description = "Optional analytics retention overrides in days, by environment variable (ANALYTICS_RETENTION_DAYS_<CATEGORY>, ANALYTICS_RETENTION_DAYS, ANALYTICS_AGGREGATE_RETENTION_DAYS); see docs/DEPLOY.md."
  type        = map(number)
  default     = {}
}
