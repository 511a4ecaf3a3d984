variable "environment" {
  description = "Environment name (dev, prod, ...); resources are named <name_prefix>-<environment>-<logical name>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "event-flows"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix must be 2-21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "artifacts_dir" {
  description = "Directory holding the function zips built by `npm run build` (<artifacts_dir>/<function>.zip)."
  type        = string
}

variable "function_zip_paths" {
  description = "Per-function zip path overrides, by function key (query, write, import-api, app-events, import, analytics, analytics-api, auth-triggers)."
  type        = map(string)
  default     = {}
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function key; functions not listed stay unreserved."
  type        = map(number)
  default     = {}
}

variable "table_warm_throughput" {
  description = "Pre-warming for a known peak, by table key (data, analytics, ...) or \"<table>/<index>\" (e.g. analytics/byUser): the read and write units per second DynamoDB serves at once. Charged once; never lowered again. docs/DEPLOY.md, \"Sizing for one busy tenant\", gives the arithmetic. Tables not listed keep the on-demand default (12,000 reads and 4,000 writes a second)."
  type = map(object({
    read_units_per_second  = number
    write_units_per_second = number
  }))
  default = {}

  validation {
    condition     = alltrue([for warm in values(var.table_warm_throughput) : warm.read_units_per_second >= 12000 && warm.write_units_per_second >= 4000])
    error_message = "table_warm_throughput values must be at least DynamoDB's on-demand default: 12000 read and 4000 write units per second."
  }
}

variable "queue_consumer_concurrency" {
  description = "Per-queue overrides of topology.json's maximum_concurrency (the most invocations the queue's event source mapping runs at once), by queue key (import, app-events, analytics). Raise it for a busy tenant: docs/DEPLOY.md, \"Sizing for one busy tenant\", gives the arithmetic. Queues not listed keep topology.json's value."
  type        = map(number)
  default     = {}

  validation {
    # Lambda's own bounds for scaling_config.maximum_concurrency.
    condition     = alltrue([for value in values(var.queue_consumer_concurrency) : value >= 2 && value <= 1000 && floor(value) == value])
    error_message = "queue_consumer_concurrency values must be whole numbers between 2 and 1000."
  }
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
  description = "Create a Cognito user pool and app client as the JWT issuer and audience."
  type        = bool
  default     = false
}

variable "dashboard_enabled" {
  description = "Deploy the analytics dashboard (web/: S3 + CloudFront, sign-in through the created user pool's hosted UI, its origin added to the API's CORS origins). null: on in dev when the user pool is created here, off elsewhere."
  type        = bool
  default     = null
}

variable "dashboard_dir" {
  description = "Directory of the built dashboard (npm run build:web writes web/dist), relative to the environment's directory; null: <artifacts_dir>/../web/dist."
  type        = string
  default     = null
}

variable "cors_allowed_origins" {
  description = "Front-end origins allowed by CORS."
  type        = list(string)
  default     = []
}

variable "api_throttling_burst_limit" {
  description = "Burst limit of the API's $default stage."
  type        = number
  default     = 200
}

variable "api_throttling_rate_limit" {
  description = "Rate limit (requests per second) of the API's $default stage."
  type        = number
  default     = 100
}

variable "log_retention_days" {
  description = "Retention of the function and access log groups, in days."
  type        = number
  default     = 30
}

variable "table_deletion_protection" {
  description = "Deletion protection for the DynamoDB tables and the Cognito user pool (when created)."
  type        = bool
  default     = true
}

variable "event_archive_retention_days" {
  description = "Days the app bus's archive keeps our domain events (topology.json's archives; the analytics bus has none)."
  type        = number
  default     = 30

  validation {
    condition     = var.event_archive_retention_days >= 1 && var.event_archive_retention_days <= 90
    error_message = "event_archive_retention_days must be between 1 and 90 (archived events cannot be erased one by one; docs/SECURITY.md)."
  }
}

variable "analytics_allowed_account_ids" {
  description = "Accounts allowed to PutEvents on the analytics bus (cross-account analytics)."
  type        = list(string)
  default     = []
}

variable "analytics_allowed_organization_id" {
  description = "AWS Organization allowed to PutEvents on the analytics bus."
  type        = string
  default     = null
}

variable "analytics_retention_days" {
  description = "Optional retention overrides in days for the analytics function, by environment variable: ANALYTICS_RETENTION_DAYS_<USER_ACTION|SYSTEM_EVENT|AUTHENTICATION|QUERY> (events of one category; defaults 90, 30, 90, 30), ANALYTICS_RETENTION_DAYS (every category without its own), ANALYTICS_AGGREGATE_RETENTION_DAYS (aggregates; default 400). Unset names keep the code's defaults."
  type        = map(number)
  default     = {}

  validation {
    condition = alltrue([for name in keys(var.analytics_retention_days) : contains([
      "ANALYTICS_RETENTION_DAYS_USER_ACTION", "ANALYTICS_RETENTION_DAYS_SYSTEM_EVENT", "ANALYTICS_RETENTION_DAYS_AUTHENTICATION",
      "ANALYTICS_RETENTION_DAYS_QUERY", "ANALYTICS_RETENTION_DAYS", "ANALYTICS_AGGREGATE_RETENTION_DAYS",
    ], name)])
    error_message = "analytics_retention_days keys must be ANALYTICS_RETENTION_DAYS_<USER_ACTION|SYSTEM_EVENT|AUTHENTICATION|QUERY>, ANALYTICS_RETENTION_DAYS or ANALYTICS_AGGREGATE_RETENTION_DAYS."
  }

  validation {
    condition     = alltrue([for days in values(var.analytics_retention_days) : days > 0])
    error_message = "analytics_retention_days values must be positive numbers of days (the function refuses others)."
  }
}

variable "item_shards" {
  description = "Partition keys a new collection's items are spread over, by a hash of the item id (docs/SCALE.md): each takes about 1,000 write units a second, so 32 let one collection import about 10,000 items a second; every list call reads each of them. Fixed per collection at its first write and recorded with it: changing this affects new collections only. Collections written before sharding keep 1."
  type        = number
  default     = 32

  validation {
    condition     = var.item_shards >= 1 && var.item_shards <= 64 && floor(var.item_shards) == var.item_shards
    error_message = "item_shards must be a whole number from 1 to 64 (the functions refuse others)."
  }
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
