variable "name" {
  description = "Name of the system/environment (e.g. event-flows-dev); prefixes the topic, key alias, alarms and dashboard."
  type        = string
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_emails must be e-mail addresses."
  }
}

variable "dead_letter_queue_names" {
  description = "Every DLQ (redrive DLQs and EventBridge delivery DLQs): each gets a depth > 0 alarm and an oldest-message-age alarm."
  type        = list(string)
  default     = []
}

variable "dlq_age_threshold_seconds" {
  description = "Alarm when a DLQ's oldest message is older than this, in seconds (default 7 days, half a 14-day retention)."
  type        = number
  default     = 604800

  validation {
    condition     = var.dlq_age_threshold_seconds > 0
    error_message = "dlq_age_threshold_seconds must be positive."
  }
}

variable "queue_names" {
  description = "Source queues: each gets an oldest-message-age alarm and a dashboard depth line."
  type        = list(string)
  default     = []
}

variable "queue_age_threshold_seconds" {
  description = "Alarm when a source queue's oldest message is older than this, in seconds."
  type        = number
  default     = 900

  validation {
    condition     = var.queue_age_threshold_seconds > 0
    error_message = "queue_age_threshold_seconds must be positive."
  }
}

variable "function_names" {
  description = "Lambda functions: each gets Errors and Throttles alarms and dashboard lines."
  type        = list(string)
  default     = []
}

variable "function_error_threshold" {
  description = "Alarm when a function reports more errors than this in 5 minutes."
  type        = number
  default     = 0

  validation {
    condition     = var.function_error_threshold >= 0
    error_message = "function_error_threshold must not be negative."
  }
}

variable "http_api" {
  description = "The HTTP API to alarm on (5xx) and chart: its ID and stage; null for none. An object rather than a nullable ID: whether it is null is known when planning a new environment, while the ID is not."
  type = object({
    id    = string
    stage = string
  })
  default = null
}

variable "api_5xx_threshold" {
  description = "Alarm when the API answers more 5xx than this in 5 minutes."
  type        = number
  default     = 0

  validation {
    condition     = var.api_5xx_threshold >= 0
    error_message = "api_5xx_threshold must not be negative."
  }
}

variable "application_metrics_namespace" {
  description = "CloudWatch namespace of the application's EMF metrics (functions/shared/log.ts METRICS_NAMESPACE)."
  type        = string
  default     = "EventFlows"
}

variable "application_metric_dimensions" {
  description = "Dimensions every application metric carries besides its own (functions/shared/log.ts: Environment), added to each application_metric_alarms entry so the alarms watch this deployment's metrics only."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key, value in var.application_metric_dimensions : length(value) > 0])
    error_message = "application_metric_dimensions values must not be empty."
  }
}

variable "application_metric_alarms" {
  description = "Alarms on the application's own metrics, by alarm suffix: each alarms when the metric (with exactly these dimensions) sums to more than 0 in 5 minutes."
  type = map(object({
    metric_name = string
    dimensions  = map(string)
    description = string
  }))
  default = {}
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
