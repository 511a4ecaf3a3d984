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
  description = "Global secondary indexes: name, hash and range key attributes (strings), projection, and optional warm_throughput (as the table's)."
  type = list(object({
    name            = string
    hash_key        = string
    range_key       = string
    projection_type = optional(string, "ALL")
    # Pre-warming of the index (see var.warm_throughput); null keeps DynamoDB's default.
    warm_throughput = optional(object({
      read_units_per_second  = number
      write_units_per_second = number
    }))
  }))
  default = []

  validation {
    condition     = alltrue([for index in var.global_secondary_indexes : index.warm_throughput == null ? true : index.warm_throughput.read_units_per_second >= 12000 && index.warm_throughput.write_units_per_second >= 4000])
    error_message = "An index's warm_throughput must be at least DynamoDB's on-demand default: 12000 read and 4000 write units per second."
  }

  validation {
    condition     = alltrue([for index in var.global_secondary_indexes : contains(["ALL", "KEYS_ONLY"], index.projection_type)])
    error_message = "projection_type must be ALL or KEYS_ONLY."
  }

  validation {
    condition     = length(distinct([for index in var.global_secondary_indexes : index.name])) == length(var.global_secondary_indexes)
    error_message = "Index names must be unique."
  }
}

variable "warm_throughput" {
  description = "Read and write units per second the table can serve at once (pre-warming, charged once; it can never be lowered again). Null keeps DynamoDB's on-demand default of 12,000 reads and 4,000 writes a second."
  type = object({
    read_units_per_second  = number
    write_units_per_second = number
  })
  default = null

  validation {
    condition     = var.warm_throughput == null ? true : var.warm_throughput.read_units_per_second >= 12000 && var.warm_throughput.write_units_per_second >= 4000
    error_message = "warm_throughput must be at least DynamoDB's on-demand default: 12000 read and 4000 write units per second."
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
