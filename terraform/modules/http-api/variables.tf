variable "name" {
  description = "Name of the HTTP API (also prefixes its authorizer, log group and optional user pool)."
  type        = string
}

variable "description" {
  description = "Description of the API."
  type        = string
  default     = ""
}

variable "routes" {
  description = "Routes by route key (\"GET /items/{collection}\"): the function (a key of var.functions), auth (\"jwt\" or \"none\"), optionally a throttle of the route's own (burst_limit requests, rate_limit requests per second, for all callers together, at most the stage's), and optionally the OAuth scopes the JWT authorizer requires (the token's scope claim must hold one)."
  type = map(object({
    function = string
    auth     = string
    throttle = optional(object({
      burst_limit = number
      rate_limit  = number
    }))
    scopes = optional(list(string), [])
  }))

  validation {
    condition     = alltrue([for route in values(var.routes) : contains(["jwt", "none"], route.auth)])
    error_message = "Route auth must be \"jwt\" or \"none\"."
  }

  validation {
    condition     = alltrue([for route in values(var.routes) : route.auth == "jwt" || length(route.scopes) == 0])
    error_message = "Only a jwt route can require scopes."
  }

  validation {
    condition     = alltrue([for route in values(var.routes) : route.throttle == null || try(route.throttle.burst_limit > 0 && route.throttle.rate_limit > 0, false)])
    error_message = "A route throttle's burst_limit and rate_limit must be greater than 0."
  }

  validation {
    condition     = alltrue([for key in keys(var.routes) : can(regex("^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) /", key))])
    error_message = "Route keys must look like \"METHOD /path\"."
  }
}

variable "functions" {
  description = "Functions behind the routes, by key: invoke ARN and function name."
  type = map(object({
    invoke_arn    = string
    function_name = string
  }))
}

variable "jwt_issuer" {
  description = "Issuer URL of the JWT authorizer (ignored when create_cognito_user_pool is true)."
  type        = string
  default     = null

  validation {
    condition     = var.jwt_issuer == null || startswith(coalesce(var.jwt_issuer, "https://"), "https://")
    error_message = "jwt_issuer must be an https:// URL."
  }
}

variable "jwt_audience" {
  description = "Accepted audiences (aud) of the JWT authorizer (ignored when create_cognito_user_pool is true)."
  type        = list(string)
  default     = []
}

variable "create_cognito_user_pool" {
  description = "Create a Cognito user pool and app client, and use them as the JWT issuer and audience."
  type        = bool
  default     = false
}

variable "user_pool_deletion_protection" {
  description = "Deletion protection of the created Cognito user pool."
  type        = bool
  default     = true
}

variable "cognito_trigger_arn" {
  description = "ARN of the Lambda function the created user pool calls for pre token generation (V2), pre and post authentication and post confirmation (docs/AUTH.md); null for none. Built from its parts by the caller, so the pool does not wait for the function."
  type        = string
  default     = null

  validation {
    condition     = var.cognito_trigger_arn == null || can(regex("^arn:[^:]+:lambda:[^:]+:[0-9]{12}:function:[A-Za-z0-9_-]+$", coalesce(var.cognito_trigger_arn, "-")))
    error_message = "cognito_trigger_arn must be a Lambda function ARN."
  }
}

variable "cognito_trigger_function_name" {
  description = "Name of that function, for the permission that lets the user pool invoke it (required with cognito_trigger_arn)."
  type        = string
  default     = null
}

variable "cognito_domain_prefix" {
  description = "Prefix of the created user pool's hosted UI domain (<prefix>.auth.<region>.amazoncognito.com; unique in the region); null for no hosted UI."
  type        = string
  default     = null

  validation {
    condition     = var.cognito_domain_prefix == null || can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", coalesce(var.cognito_domain_prefix, "-"))) && !strcontains(coalesce(var.cognito_domain_prefix, "-"), "cognito") && !strcontains(coalesce(var.cognito_domain_prefix, "-"), "aws")
    error_message = "cognito_domain_prefix must be 1 to 63 of a-z, 0-9 and - (not at either end), without the words aws or cognito."
  }
}

variable "oauth_redirect_urls" {
  description = "The front end's pages the hosted UI may send the browser back to, after sign-in (callback URLs) and after logout (e.g. https://d123.cloudfront.net/); enables the authorization code flow on the app client."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for url in var.oauth_redirect_urls : can(regex("^(https://|http://localhost[:/])", url))])
    error_message = "oauth_redirect_urls must be https:// URLs (http:// only for localhost), as Cognito requires."
  }
}

variable "cors_allowed_origins" {
  description = "Origins of the front end allowed by CORS (e.g. https://app.example.com)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for origin in var.cors_allowed_origins : origin != "*" && can(regex("^https?://", origin))])
    error_message = "cors_allowed_origins must be explicit http(s) origins, not \"*\"."
  }
}

variable "cors" {
  description = "CORS rules besides the origins: methods, request headers the API reads, response headers the front end may read, preflight cache age."
  type = object({
    allow_methods   = list(string)
    allow_headers   = list(string)
    expose_headers  = list(string)
    max_age_seconds = number
  })

  validation {
    condition     = alltrue([for header in concat(var.cors.allow_headers, var.cors.expose_headers) : header == lower(header) && header != "*"])
    error_message = "CORS headers must be explicit lower-case names, not \"*\"."
  }

  validation {
    condition     = var.cors.max_age_seconds >= 0 && var.cors.max_age_seconds <= 86400
    error_message = "cors.max_age_seconds must be between 0 and 86400."
  }
}

variable "throttling_burst_limit" {
  description = "Burst limit of the $default stage (requests)."
  type        = number
  default     = 200

  validation {
    condition     = var.throttling_burst_limit > 0
    error_message = "throttling_burst_limit must be greater than 0."
  }
}

variable "throttling_rate_limit" {
  description = "Steady-state rate limit of the $default stage (requests per second)."
  type        = number
  default     = 100

  validation {
    condition     = var.throttling_rate_limit > 0
    error_message = "throttling_rate_limit must be greater than 0."
  }
}

variable "integration_timeout_milliseconds" {
  description = "Timeout of the Lambda integrations, in milliseconds."
  type        = number
  default     = 30000

  validation {
    condition     = var.integration_timeout_milliseconds >= 50 && var.integration_timeout_milliseconds <= 30000
    error_message = "integration_timeout_milliseconds must be between 50 and 30000."
  }
}

variable "access_log_retention_days" {
  description = "Retention of the access log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.access_log_retention_days)
    error_message = "access_log_retention_days must be a retention CloudWatch Logs accepts."
  }
}

variable "log_kms_key_arn" {
  description = "Optional KMS key ARN for the access log group."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
