variable "name" {
  description = "Queue name; the DLQ is named <name>-dlq."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,76}$", var.name))
    error_message = "name must be 1-76 letters, digits, hyphens or underscores (room for the -dlq suffix)."
  }
}

variable "create_dlq" {
  description = "Create a dead-letter queue with a redrive policy (on by default)."
  type        = bool
  default     = true
}

variable "max_receive_count" {
  description = "Receives before a message moves to the DLQ."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "message_retention_seconds" {
  description = "Retention of the source queue, in seconds (default 4 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "dlq_message_retention_seconds" {
  description = "Retention of the DLQ, in seconds (default 14 days, the maximum); must exceed the source queue's."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "consumer_function_name" {
  description = "Name or ARN of the Lambda function that consumes the queue through an event source mapping (null: no mapping)."
  type        = string
  default     = null
}

variable "consumer_timeout_seconds" {
  description = "Timeout of the consumer function, in seconds; the visibility timeout is derived from it."
  type        = number

  validation {
    condition     = var.consumer_timeout_seconds >= 1 && var.consumer_timeout_seconds <= 900
    error_message = "consumer_timeout_seconds must be between 1 and 900."
  }
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout, in seconds; null computes 6 x consumer_timeout_seconds + batching_window_seconds, and a smaller value is rejected."
  type        = number
  default     = null

  validation {
    # A conditional, not `||`: Terraform evaluates both operands of || and null >= 0 is an error.
    condition     = var.visibility_timeout_seconds == null ? true : var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200 (12 hours)."
  }
}

variable "batch_size" {
  description = "Records per invocation of the consumer."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "batching_window_seconds" {
  description = "Maximum batching window of the event source mapping, in seconds."
  type        = number
  default     = 0

  validation {
    condition     = var.batching_window_seconds >= 0 && var.batching_window_seconds <= 300
    error_message = "batching_window_seconds must be between 0 and 300."
  }
}

variable "maximum_concurrency" {
  description = "Maximum concurrent invocations the SQS event source may make (scaling_config.maximum_concurrency)."
  type        = number
  default     = 2

  validation {
    condition     = var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000
    error_message = "maximum_concurrency must be between 2 and 1000."
  }
}

variable "event_sources" {
  description = "EventBridge rules that deliver to this queue, by logical name: the module creates each rule's target (retry policy, dead_letter_arn for undeliverable events) and admits exactly these rules in the queue policy (aws:SourceArn). Empty: none."
  type = map(object({
    rule_name       = string
    bus_name        = string
    rule_arn        = string
    dead_letter_arn = string
  }))
  default = {}
}

variable "maximum_retry_attempts" {
  description = "Retry attempts of each EventBridge target before the event goes to its dead-letter queue."
  type        = number
  default     = 185

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 185
    error_message = "maximum_retry_attempts must be between 0 and 185."
  }
}

variable "maximum_event_age_in_seconds" {
  description = "How long EventBridge keeps retrying an event to this queue, in seconds."
  type        = number
  default     = 86400

  validation {
    condition     = var.maximum_event_age_in_seconds >= 60 && var.maximum_event_age_in_seconds <= 86400
    error_message = "maximum_event_age_in_seconds must be between 60 and 86400."
  }
}

variable "kms_master_key_id" {
  description = "Optional KMS key for SSE-KMS; null uses SQS-managed encryption (SSE-SQS)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
