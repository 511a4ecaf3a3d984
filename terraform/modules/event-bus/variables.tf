variable "name" {
  description = "Name of the event bus."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,256}$", var.name))
    error_message = "name must be 1-256 letters, digits, dots, hyphens or underscores."
  }
}

variable "name_prefix" {
  description = "Prefix of the rule names (e.g. \"event-flows-dev-\")."
  type        = string
  default     = ""
}

variable "rules" {
  description = "Rules on the bus, by logical name: description, event pattern (JSON; the string $${own_account} in it stands for this account's id) and the name of the SQS queue they target. Each rule gets a delivery DLQ named <target_queue_name>-delivery-dlq; the target itself is created by the queue module (its event_sources)."
  type = map(object({
    description       = optional(string, "")
    event_pattern     = string
    target_queue_name = string
  }))
  default = {}

  validation {
    condition     = alltrue([for r in values(var.rules) : can(jsondecode(r.event_pattern))])
    error_message = "Every rule's event_pattern must be valid JSON."
  }
}

variable "delivery_dlq_message_retention_seconds" {
  description = "Retention of the delivery DLQs, in seconds (default 14 days)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.delivery_dlq_message_retention_seconds >= 60 && var.delivery_dlq_message_retention_seconds <= 1209600
    error_message = "delivery_dlq_message_retention_seconds must be between 60 and 1209600."
  }
}

variable "archive" {
  description = "An archive of the bus for replay: the events its pattern (JSON) selects, kept retention_days; null for none. Archived events cannot be deleted one by one, so archive only what may be kept that long."
  type = object({
    description    = optional(string, "")
    event_pattern  = string
    retention_days = number
  })
  default = null

  validation {
    condition     = var.archive == null || try(can(jsondecode(var.archive.event_pattern)) && var.archive.retention_days >= 1, false)
    error_message = "archive.event_pattern must be JSON and archive.retention_days at least 1 (0 would keep events forever)."
  }
}

variable "allowed_account_ids" {
  description = "AWS accounts allowed to PutEvents on this bus (cross-account analytics); empty by default."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "allowed_account_ids must be 12-digit account IDs."
  }
}

variable "allowed_organization_id" {
  description = "AWS Organization (o-...) whose accounts may PutEvents on this bus; null by default."
  type        = string
  default     = null

  validation {
    condition     = var.allowed_organization_id == null || can(regex("^o-[a-z0-9]{10,32}$", var.allowed_organization_id))
    error_message = "allowed_organization_id must look like o-xxxxxxxxxx."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
