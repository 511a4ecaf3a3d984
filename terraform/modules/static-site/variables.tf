variable "name" {
  description = "Name of the site: prefixes the bucket (followed by the account ID, bucket names are global) and names the CloudFront pieces."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3 to 40 of a-z, 0-9 and -, starting and ending with a letter or digit (it becomes part of an S3 bucket name)."
  }
}

variable "connect_src" {
  description = "Origins the pages may call (the Content-Security-Policy's connect-src besides 'self'): the API and the sign-in provider, e.g. https://*.execute-api.eu-west-1.amazonaws.com."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for origin in var.connect_src : can(regex("^https://[A-Za-z0-9*.-]+(:[0-9]+)?$", origin))])
    error_message = "connect_src entries must be https:// origins (scheme and host, optionally a port; no path)."
  }
}

variable "price_class" {
  description = "CloudFront price class: which edge locations serve the site."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "aliases" {
  description = "Custom domain names of the site (with acm_certificate_arn); none: the distribution's *.cloudfront.net name only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for alias in var.aliases : can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", alias))])
    error_message = "aliases must be lower-case host names (dashboard.example.com), without scheme or path."
  }
}

variable "acm_certificate_arn" {
  description = "ACM certificate (in us-east-1) for the aliases; with one the viewers need TLS 1.2 or newer (TLSv1.2_2021)."
  type        = string
  default     = null

  validation {
    condition     = var.acm_certificate_arn == null || can(regex("^arn:[^:]+:acm:us-east-1:[0-9]{12}:certificate/", coalesce(var.acm_certificate_arn, "-")))
    error_message = "acm_certificate_arn must be an ACM certificate ARN in us-east-1 (CloudFront reads certificates only there)."
  }
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted file's old version is kept (the bucket is versioned, so a bad deploy can be rolled back)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_days >= 1
    error_message = "noncurrent_version_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy the bucket with its files in it (dev)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
