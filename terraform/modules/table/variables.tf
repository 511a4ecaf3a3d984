variable "name" {
  description = "Table name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.name))
    error_message = "name must be 3-255 letters, digits, underscores, dots or hyphens."
  }
}

variable "hash_key" {
  description = "Partition key attribute (string)."
  type        = string
}

variable "range_key" {
  description = "Sort key attribute (string); null for none."
  type        = string
  default     = null
}

variable "global_secondary_indexes" {
  description = "Global secondary indexes: name, hash and range key attributes (strings) and projection."
  type = list(object({
    name            = string
    hash_key        = string
    range_key       = string
    projection_type = optional(string, "ALL")
  }))
  default = []

  validation {
    condition     = alltrue([for index in var.global_secondary_indexes : contains(["ALL", "KEYS_ONLY"], index.projection_type)])
    error_message = "projection_type must be ALL or KEYS_ONLY."
  }

  validation {
    condition     = length(distinct([for index in var.global_secondary_indexes : index.name])) == length(var.global_secondary_indexes)
    error_message = "Index names must be unique."
  }
}

variable "ttl_attribute" {
  description = "Attribute holding an epoch-seconds expiry; DynamoDB TTL deletes the item after it."
  type        = string

  validation {
    condition     = length(var.ttl_attribute) > 0
    error_message = "ttl_attribute must not be empty."
  }
}

variable "deletion_protection_enabled" {
  description = "Refuse to delete the table (turn off before destroying)."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Optional customer-managed KMS key ARN; null uses the AWS-managed DynamoDB key."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the table."
  type        = map(string)
  default     = {}
}
